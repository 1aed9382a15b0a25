-- Headless end-to-end test of clients/neovim with the real server (Neovim 0.7 and 0.11).
--
--   MICRO_AGENT_TEST_FILE=/repo/tests/test_calc.py MICRO_AGENT_CLIENT_DIR=clients/neovim \
--     nvim --headless -u NONE -i NONE -n -c 'luafile clients/neovim/test/e2e.lua'
--
-- Opens the failing test file, waits for the server's diagnostics (tests on open), moves to the
-- failing line, runs the code action "Fix with Micro Agent" through vim.lsp.buf.code_action() (the
-- menu is answered by overriding vim.ui.select), waits for the fix to be applied and the run to
-- finish, and writes every buffer. Exit status 0 and a PASS line when all of that happened.
-- Optional: MICRO_AGENT_LSP_CMD (the server command, space-separated), MICRO_AGENT_TIMEOUT_MS.
local file = assert(os.getenv("MICRO_AGENT_TEST_FILE"), "set MICRO_AGENT_TEST_FILE")
local client_dir = os.getenv("MICRO_AGENT_CLIENT_DIR") or vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":h:h")
local timeout = tonumber(os.getenv("MICRO_AGENT_TIMEOUT_MS") or "60000")

local function log(...)
  io.stderr:write(table.concat(vim.tbl_map(tostring, { ... }), " ") .. "\n")
end
local function finish(code, message)
  log(code == 0 and "PASS" or "FAIL", message or "")
  vim.cmd(code == 0 and "qall!" or ("cquit " .. code))
end

vim.opt.runtimepath:prepend(client_dir)
vim.cmd("filetype on")
local micro_agent = require("micro_agent")
local cmd
if os.getenv("MICRO_AGENT_LSP_CMD") then
  cmd = vim.split(os.getenv("MICRO_AGENT_LSP_CMD"), " ", { trimempty = true })
end
micro_agent.setup({ cmd = cmd, echo_progress = false })

local progress = {}
vim.api.nvim_create_autocmd("User", {
  pattern = "MicroAgentProgress",
  callback = function() table.insert(progress, micro_agent.last_progress or "end") end,
})

vim.cmd("edit " .. vim.fn.fnameescape(file))
local bufnr = vim.api.nvim_get_current_buf()
log("nvim", tostring(vim.version().major) .. "." .. tostring(vim.version().minor), "filetype", vim.bo.filetype)

-- 1. the server attaches and runs the tests on open: a micro-agent diagnostic appears
local diagnostic
local ok = vim.wait(timeout, function()
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    if d.source == "micro-agent" then
      diagnostic = d
      return true
    end
  end
  return false
end, 50)
if not ok then return finish(3, "no micro-agent diagnostic after opening " .. file) end
log("diagnostic on line", diagnostic.lnum + 1, vim.split(diagnostic.message, "\n")[1])

-- 2. the code action, through the real code_action() path; the menu picks our action
vim.api.nvim_win_set_cursor(0, { diagnostic.lnum + 1, 0 })
local offered = {}
vim.ui.select = function(items, opts, on_choice)
  for _, item in ipairs(items) do
    local action = item[2] or item.action or item
    table.insert(offered, action.title)
    if action.title == "Fix with Micro Agent" then
      return on_choice(item)
    end
  end
  on_choice(nil)
end
vim.lsp.buf.code_action()
ok = vim.wait(5000, function() return #offered > 0 end, 20)
if not ok or not vim.tbl_contains(offered, "Fix with Micro Agent") then
  return finish(5, "action not offered: " .. vim.inspect(offered))
end

-- 3. the run ends and its fix arrives as an edit to the target's buffer
ok = vim.wait(timeout, function() return micro_agent.last_finished ~= nil end, 50)
if not ok then return finish(7, "no microAgent/runFinished") end
local finished = micro_agent.last_finished
log("run finished", finished.outcome, "iterations", finished.iterations)
if finished.outcome ~= "success" then return finish(8, "outcome " .. tostring(finished.outcome)) end
local target = vim.uri_to_bufnr(finished.uri)
ok = vim.wait(5000, function() return vim.bo[target].modified end, 20)
if not ok then return finish(9, "the fix was not applied to " .. finished.uri) end
vim.cmd("silent wall")
log("progress seen:", table.concat(progress, " | "))
if #progress < 3 then return finish(10, "progress missing") end
finish(0, "fixed " .. vim.uri_to_fname(finished.uri))
