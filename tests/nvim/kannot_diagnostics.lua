-- Headless neovim with its built-in LSP client: start `kannot lsp` on a tree, open one file,
-- wait for diagnostics, write them to $KANNOT_OUT as "CODE<TAB>LINE<TAB>SOURCE<TAB>MESSAGE" lines
-- (LINE 1-based), then quit. Works with neovim 0.7 (vim.lsp.start_client) and later.
local root = assert(os.getenv("KANNOT_ROOT"))
local file = assert(os.getenv("KANNOT_FILE"))
local out = assert(os.getenv("KANNOT_OUT"))
local python = assert(os.getenv("KANNOT_PYTHON"))
local timeout_ms = tonumber(os.getenv("KANNOT_TIMEOUT_MS") or "120000")

local function finish(lines, status)
  local f = assert(io.open(out, "w"))
  f:write(status .. "\n")
  for _, l in ipairs(lines) do f:write(l .. "\n") end
  f:close()
  vim.cmd("qa!")
end

vim.cmd("edit " .. vim.fn.fnameescape(root .. "/" .. file))
local bufnr = vim.api.nvim_get_current_buf()
local client_id = vim.lsp.start_client({
  name = "kannot",
  cmd = { python, "-m", "kannot", "lsp", "-j", "1", "--no-cache" },
  root_dir = root,
})
if not client_id then
  finish({}, "error: the client did not start")
end
vim.lsp.buf_attach_client(bufnr, client_id)

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
local client = vim.lsp.get_client_by_id(client_id)
if client then
  client.stop()
  vim.wait(5000, function() return client.is_stopped() end, 50)
end
finish(lines, got and "ok" or "timeout")
