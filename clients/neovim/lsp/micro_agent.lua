-- Neovim 0.11+ native config: with clients/neovim on 'runtimepath', `vim.lsp.enable("micro_agent")`
-- is all it takes. require("micro_agent").setup() does the same and adds :MicroAgent* commands.
local ok, micro_agent = pcall(require, "micro_agent")
return {
  cmd = { "micro-agent", "lsp" },
  filetypes = { "python", "typescript", "typescriptreact", "javascript", "javascriptreact", "rust" },
  root_markers = { "micro-agent.yml", ".git" },
  settings = { microAgent = {} },
  init_options = { microAgent = {} },
  handlers = ok and micro_agent.handlers or nil,
}
