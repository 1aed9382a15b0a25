-- Micro Agent for Neovim: starts `micro-agent lsp` on Python, TypeScript/JavaScript and Rust buffers.
--
-- Neovim 0.11+: vim.lsp.config / vim.lsp.enable (this folder also ships lsp/micro_agent.lua, so plain
-- `vim.lsp.enable("micro_agent")` works without setup()). Neovim 0.7-0.10: vim.lsp.start_client.
--
--   require("micro_agent").setup({
--     cmd = { "micro-agent", "lsp" },  -- or the project's venv: { vim.fn.getcwd() .. "/.venv/bin/micro-agent", "lsp" }
--     settings = { microAgent = { models = { artisan = "claude-sonnet-4-5" }, runTestsOnSave = true } },
--   })
--
-- The tests run in the project's environment: settings.microAgent.interpreter, else the project's
-- .venv/venv/env, else $VIRTUAL_ENV, else the server's own venv (docs/editors.md).
--
-- The fix comes as a code action ("Fix with Micro Agent") on a failing test: vim.lsp.buf.code_action().
local M = {}

M.name = "micro_agent"

M.defaults = {
  cmd = { "micro-agent", "lsp" },
  filetypes = { "python", "typescript", "typescriptreact", "javascript", "javascriptreact", "rust" },
  root_markers = { "micro-agent.yml", ".git" },
  settings = { microAgent = {} },
  echo_progress = true, -- show progress lines in the command line (statusline users: M.statusline())
}

M.config = vim.deepcopy(M.defaults)
M.last_progress = nil -- the newest progress line, for M.statusline()
M.last_finished = nil -- the newest microAgent/runFinished payload

local has_011 = vim.fn.has("nvim-0.11") == 1

local function notify(message, level)
  vim.schedule(function()
    vim.notify("Micro Agent: " .. message, level or vim.log.levels.INFO)
  end)
end

local function request(client, method, params, handler, bufnr)
  if has_011 then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

local function clients(bufnr)
  if vim.lsp.get_clients then
    return vim.lsp.get_clients({ bufnr = bufnr, name = M.name })
  end
  local found = {}
  for _, client in pairs(vim.lsp.buf_get_clients(bufnr)) do
    if client.name == M.name then
      table.insert(found, client)
    end
  end
  return found
end

-- Handlers shared by both flavours: progress lines and the end-of-run notification.
local function progress_handler(err, result, ctx, config)
  local value = result and result.value or {}
  if type(result.token) == "string" and result.token:find("^micro%-agent/") then
    local text = value.title or value.message or ""
    if value.kind == "report" or value.kind == "end" then
      text = value.message or ""
    end
    M.last_progress = value.kind == "end" and nil or text
    vim.schedule(function()
      vim.api.nvim_exec_autocmds("User", { pattern = "MicroAgentProgress", modeline = false })
      if M.config.echo_progress then
        vim.api.nvim_echo({ { "Micro Agent: " .. text } }, false, {})
      end
    end)
  end
  local default = vim.lsp.handlers["$/progress"]
  if default then
    return default(err, result, ctx, config)
  end
end

local function run_finished_handler(_, result)
  M.last_finished = result
  vim.schedule(function()
    vim.api.nvim_exec_autocmds("User", { pattern = "MicroAgentRunFinished", modeline = false })
  end)
end

M.handlers = {
  ["$/progress"] = progress_handler,
  ["microAgent/runFinished"] = run_finished_handler,
}

--- The current run's progress line, or "" (for a statusline).
function M.statusline()
  return M.last_progress and ("Micro Agent: " .. M.last_progress) or ""
end

-- --------------------------------------------------------------- commands

local function execute(command, arguments, on_result)
  local bufnr = vim.api.nvim_get_current_buf()
  local client = clients(bufnr)[1]
  if not client then
    notify("the language server is not attached to this buffer", vim.log.levels.WARN)
    return
  end
  request(client, "workspace/executeCommand", { command = command, arguments = arguments }, function(err, result)
    if err then
      notify(err.message, vim.log.levels.ERROR)
    elseif on_result then
      on_result(result)
    end
  end, bufnr)
end

local function this_file()
  return { uri = vim.uri_from_bufnr(0), line = vim.api.nvim_win_get_cursor(0)[1] - 1 }
end

function M.fix()
  execute("microAgent.run", { this_file() }, function(result)
    notify("fixing in the background (run " .. string.sub(result.runId, 1, 8) .. ")")
  end)
end

function M.escalate()
  execute("microAgent.escalate", { { uri = vim.uri_from_bufnr(0) } }, function(result)
    notify(result.startedNewRun and ("started a new run at tier " .. tostring(result.tier)) or "escalating")
  end)
end

function M.cancel()
  execute("microAgent.cancel", { { uri = vim.uri_from_bufnr(0) } }, function(result)
    notify(result.cancelled and "cancelling the run" or "no run in progress on this file")
  end)
end

function M.status()
  execute("microAgent.status", { { uri = vim.uri_from_bufnr(0) } }, function(result)
    local lines = {}
    for _, run in ipairs(result.running or {}) do
      table.insert(lines, string.format("%s: %s iteration %d/%d, $%.4f (%s)", run.target, run.tier or "-",
        run.iteration or 0, run.maxIterations or 0, run.costUsd or 0, run.phase or ""))
    end
    local last = result.lastFinished
    if type(last) == "table" then
      table.insert(lines, string.format("last: %s %s after %d iterations, $%.4f", last.target or "?",
        last.outcome or "?", last.iterations or 0, last.costUsd or 0))
    end
    notify(#lines > 0 and table.concat(lines, "\n") or "no runs yet")
  end)
end

local function create_commands()
  vim.api.nvim_create_user_command("MicroAgentFix", M.fix, { desc = "Micro Agent: fix this file's failing tests" })
  vim.api.nvim_create_user_command("MicroAgentEscalate", M.escalate, { desc = "Micro Agent: next tier now" })
  vim.api.nvim_create_user_command("MicroAgentCancel", M.cancel, { desc = "Micro Agent: cancel the run" })
  vim.api.nvim_create_user_command("MicroAgentStatus", M.status, { desc = "Micro Agent: runs and last result" })
end

-- --------------------------------------------------------------- starting the server

--- The nearest folder above `path` holding one of `markers` (Neovim 0.7 has no vim.fs).
local function find_root(path, markers)
  local dir = vim.fn.fnamemodify(path, ":p:h")
  while dir do
    for _, marker in ipairs(markers) do
      if vim.loop.fs_stat(dir .. "/" .. marker) then
        return dir
      end
    end
    local parent = vim.fn.fnamemodify(dir, ":h")
    if parent == dir then
      break
    end
    dir = parent
  end
  return vim.fn.fnamemodify(path, ":p:h")
end

local function client_config(config)
  return {
    name = M.name,
    cmd = config.cmd,
    settings = config.settings,
    init_options = config.settings,
    handlers = M.handlers,
  }
end

local function setup_011(config)
  local lsp_config = client_config(config)
  lsp_config.filetypes = config.filetypes
  lsp_config.root_markers = config.root_markers
  vim.lsp.config(M.name, lsp_config)
  vim.lsp.enable(M.name)
end

local function setup_07(config)
  local by_root = {}
  local group = vim.api.nvim_create_augroup("MicroAgentLsp", { clear = true })
  local function attach(args)
    local bufnr = args.buf
    local path = vim.api.nvim_buf_get_name(bufnr)
    if path == "" or vim.bo[bufnr].buftype ~= "" then
      return
    end
    local root = find_root(path, config.root_markers)
    local id = by_root[root]
    if not id or not vim.lsp.get_client_by_id(id) then
      local start = client_config(config)
      start.root_dir = root
      start.workspace_folders = { { uri = vim.uri_from_fname(root), name = root } }
      id = vim.lsp.start_client(start)
      by_root[root] = id
    end
    if id then
      vim.lsp.buf_attach_client(bufnr, id)
    end
  end
  vim.api.nvim_create_autocmd("FileType", { group = group, pattern = config.filetypes, callback = attach })
  -- buffers already open when setup() runs
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(bufnr) and vim.tbl_contains(config.filetypes, vim.bo[bufnr].filetype) then
      attach({ buf = bufnr })
    end
  end
end

function M.setup(opts)
  M.config = vim.tbl_deep_extend("force", vim.deepcopy(M.defaults), opts or {})
  create_commands()
  if has_011 then
    setup_011(M.config)
  else
    setup_07(M.config)
  end
end

return M
