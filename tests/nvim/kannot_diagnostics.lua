-- Headless neovim with its built-in LSP client: start `kannot lsp` on a tree, open one file,
-- wait for diagnostics, write them to $KANNOT_OUT as "CODE<TAB>LINE<TAB>SOURCE<TAB>MESSAGE" lines
-- (LINE 1-based) after a status line ("ok", "timeout" or an error), then quit. Works with
-- neovim 0.7 (vim.lsp.start_client) and later.
-- With $KANNOT_README: the README's own neovim block for this neovim (the one whose first line is
-- "-- neovim 0.7" or "-- neovim 0.8 or later") is loaded instead, and its FileType autocommand
-- starts the server (`kannot` on PATH).
local root = assert(os.getenv("KANNOT_ROOT"))
local file = assert(os.getenv("KANNOT_FILE"))
local out = assert(os.getenv("KANNOT_OUT"))
local readme = os.getenv("KANNOT_README")
local timeout_ms = tonumber(os.getenv("KANNOT_TIMEOUT_MS") or "120000")

local function finish(lines, status)
  local f = assert(io.open(out, "w"))
  f:write(status .. "\n")
  for _, l in ipairs(lines) do f:write(l .. "\n") end
  f:close()
  vim.cmd("qa!")
end

local bufnr
if readme then
  local v = vim.version()
  local wanted = (v.major == 0 and v.minor < 8) and "-- neovim 0.7" or "-- neovim 0.8 or later"
  local snippet
  for block in table.concat(vim.fn.readfile(readme), "\n"):gmatch("```lua\n(.-)```") do
    if block:sub(1, #wanted) == wanted then snippet = block end
  end
  if not snippet then finish({}, "error: no README block starting with " .. wanted) end
  local chunk, err = loadstring(snippet)
  if not chunk then finish({}, "error: the README block does not load: " .. err) end
  chunk()
  vim.cmd("filetype on")
  vim.cmd("edit " .. vim.fn.fnameescape(root .. "/" .. file))
  bufnr = vim.api.nvim_get_current_buf()
else
  local python = assert(os.getenv("KANNOT_PYTHON"))
  vim.cmd("edit " .. vim.fn.fnameescape(root .. "/" .. file))
  bufnr = vim.api.nvim_get_current_buf()
  local client_id = vim.lsp.start_client({
    name = "kannot",
    cmd = { python, "-m", "kannot", "lsp", "-j", "1", "--no-cache" },
    root_dir = root,
  })
  if not client_id then
    finish({}, "error: the client did not start")
  end
  vim.lsp.buf_attach_client(bufnr, client_id)
end

local got = vim.wait(timeout_ms, function()
  return #vim.diagnostic.get(bufnr) > 0
end, 50)

local lines = {}
for _, d in ipairs(vim.diagnostic.get(bufnr)) do
  local code = d.code
  if code == nil and d.user_data and d.user_data.lsp then
    code = d.user_data.lsp.code
  end
  table.insert(lines, string.format("%s\t%d\t%s\t%s", tostring(code), d.lnum + 1, tostring(d.source),
    (d.message:gsub("\n", " | "))))
end
for _, client in pairs(vim.lsp.get_active_clients()) do client.stop() end
vim.wait(5000, function() return #vim.lsp.get_active_clients() == 0 end, 50)
finish(lines, got and "ok" or "timeout")
