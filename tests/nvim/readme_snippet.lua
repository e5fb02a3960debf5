-- Load the README's neovim snippet for this neovim (the block whose first line is
-- "-- neovim 0.7" or "-- neovim 0.8 or later"), open $KANNOT_FILE under $KANNOT_ROOT so that its
-- FileType autocommand starts `kannot lsp`, wait for diagnostics, and write them to $KANNOT_OUT
-- as "CODE<TAB>LINE" lines after a status line ("ok", "timeout" or an error).
local root = assert(os.getenv("KANNOT_ROOT"))
local file = assert(os.getenv("KANNOT_FILE"))
local out = assert(os.getenv("KANNOT_OUT"))
local readme = assert(os.getenv("KANNOT_README"))
local timeout_ms = tonumber(os.getenv("KANNOT_TIMEOUT_MS") or "120000")

local function finish(lines, status)
  local f = assert(io.open(out, "w"))
  f:write(status .. "\n")
  for _, l in ipairs(lines) do f:write(l .. "\n") end
  f:close()
  vim.cmd("qa!")
end

local v = vim.version()
local wanted = (v.major == 0 and v.minor < 8) and "-- neovim 0.7" or "-- neovim 0.8 or later"
local text = table.concat(vim.fn.readfile(readme), "\n")
local snippet
for block in text:gmatch("```lua\n(.-)```") do
  if block:sub(1, #wanted) == wanted then snippet = block end
end
if not snippet then finish({}, "error: no README block starting with " .. wanted) end
local chunk, err = loadstring(snippet)
if not chunk then finish({}, "error: the README block does not load: " .. err) end
chunk()

vim.cmd("filetype on")
vim.cmd("edit " .. vim.fn.fnameescape(root .. "/" .. file))
local bufnr = vim.api.nvim_get_current_buf()
local got = vim.wait(timeout_ms, function() return #vim.diagnostic.get(bufnr) > 0 end, 50)
local lines = {}
for _, d in ipairs(vim.diagnostic.get(bufnr)) do
  local code = d.code
  if code == nil and d.user_data and d.user_data.lsp then code = d.user_data.lsp.code end
  table.insert(lines, string.format("%s\t%d", tostring(code), d.lnum + 1))
end
for _, client in pairs(vim.lsp.get_active_clients()) do client.stop() end
vim.wait(5000, function() return #vim.lsp.get_active_clients() == 0 end, 50)
finish(lines, got and "ok" or "timeout")
