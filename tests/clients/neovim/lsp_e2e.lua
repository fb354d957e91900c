-- freshlens in a real Neovim (0.7+, headless): diagnostics with their code, Build/Reuse code
-- lenses, hover text, and a settings change over workspace/didChangeConfiguration.
-- Run by scripts/test-editors.sh:
--   FL_REPO=<repo> FL_OUT=<result.json> nvim --headless --clean -c "luafile tests/clients/neovim/lsp_e2e.lua"
-- Exits 0 when every check passes; writes every check and what the server returned to FL_OUT.
local repo = assert(os.getenv('FL_REPO'), 'FL_REPO is not set')
local py = os.getenv('FL_PYTHON') or (repo .. '/.venv/bin/python')
local outp = os.getenv('FL_OUT') or (vim.fn.getcwd() .. '/neovim-result.json')
local examples = os.getenv('FL_WORKSPACE') or (repo .. '/examples')
local mistake_file = examples .. '/mistakes/models/fl101_count_without_period.sql'
local model_file = examples .. '/jaffle_fresh/models/marts/core/fct_orders.sql'
local T0 = vim.loop.hrtime()
local res, ok = { checks = {} }, true
local function say(msg) io.stdout:write(string.format('[nvim %.1fs] %s\n', (vim.loop.hrtime() - T0) / 1e9, msg)) end
local function check(name, cond, detail)
  res.checks[name] = cond and 'ok' or 'FAIL'
  ok = ok and cond
  say((cond and 'ok   ' or 'FAIL ') .. name .. (detail and (': ' .. detail) or ''))
end
local function finish()
  local f = io.open(outp, 'w'); f:write(vim.fn.json_encode(res)); f:close()
  if ok then vim.cmd('qall!') else vim.cmd('cquit 1') end
end

local settings = {
  state = os.getenv('FL_STATE') or '.freshlens/runs/1', sources = '.freshlens/current/sources.json',
  regime = 'auto', at = os.getenv('FL_AT') or '', lenses = true,
}
local status_seen = nil
local id = vim.lsp.start_client({
  name = 'freshlens',
  cmd = { py, '-m', 'freshlens', 'serve' },
  root_dir = examples,
  workspace_folders = { { uri = vim.uri_from_fname(examples), name = 'examples' } },
  init_options = settings,
  handlers = { ['freshlens/status'] = function(_, params) status_seen = params end },
  on_exit = function(code) res.server_exit = code end,
})
if not id then res.error = 'could not start the server'; ok = false; return finish() end

-- 1. diagnostics with the expected code on the file of examples/mistakes that holds FL101
vim.cmd('edit ' .. vim.fn.fnameescape(mistake_file))
local mbuf = vim.api.nvim_get_current_buf()
vim.lsp.buf_attach_client(mbuf, id)
local function codes(buf)
  local out = {}
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    local code = d.code or (d.user_data and d.user_data.lsp and d.user_data.lsp.code)
    table.insert(out, { code = code, lnum = d.lnum, col = d.col, message = d.message, source = d.source })
  end
  return out
end
local function has_code(buf, code)
  for _, d in ipairs(codes(buf)) do if d.code == code then return d end end
end
vim.wait(60000, function() return has_code(mbuf, 'FL101') ~= nil end, 50)
res.diagnostics = codes(mbuf)
local d = has_code(mbuf, 'FL101')
check('diagnostic_FL101', d ~= nil and d.lnum == 0, d and (d.lnum + 1 .. ':' .. d.col + 1 .. ' ' .. d.message) or vim.inspect(res.diagnostics))

-- 2. code lenses on a model of examples/jaffle_fresh
vim.cmd('edit ' .. vim.fn.fnameescape(model_file))
local buf = vim.api.nvim_get_current_buf()
vim.lsp.buf_attach_client(buf, id)
local function lens_titles()
  local out = {}
  for _, l in ipairs(vim.lsp.codelens.get(buf)) do
    table.insert(out, { line = l.range.start.line, title = l.command and l.command.title, command = l.command and l.command.command })
  end
  return out
end
local function lens_ok(titles)
  for _, l in ipairs(titles) do
    if l.line == 0 and l.title and vim.regex('^\\(Build\\|Reuse\\|Clone\\|No-op\\|Skip\\|Unknown\\) · .\\+'):match_str(l.title) then return l end
  end
end
local lens
vim.wait(30000, function()
  vim.lsp.codelens.refresh()
  vim.wait(500, function() return #vim.lsp.codelens.get(buf) > 0 end, 50)
  lens = lens_ok(lens_titles())
  return lens ~= nil
end, 100)
res.codelens = lens_titles()
check('codelens', lens ~= nil and lens.command == 'freshlens.explain', lens and lens.title or vim.inspect(res.codelens))

-- 3. hover on the model's first line explains the decision
vim.api.nvim_win_set_cursor(0, { 1, 0 })
local hov = vim.lsp.buf_request_sync(buf, 'textDocument/hover', vim.lsp.util.make_position_params(), 20000) or {}
local h = hov[id] and hov[id].result and hov[id].result.contents
res.hover = type(h) == 'table' and (h.value or vim.inspect(h)) or h
check('hover', type(res.hover) == 'string' and #res.hover > 20, res.hover and res.hover:sub(1, 80):gsub('\n', ' ') or 'no hover')

-- 4. a settings change (what-if time) reaches the server without a restart and changes a lens
if lens then
  local before = lens.title
  local changed = vim.deepcopy(settings); changed.at = os.getenv('FL_AT2') or '2031-01-01T00:00:00Z'
  vim.lsp.get_client_by_id(id).notify('workspace/didChangeConfiguration', { settings = { freshlens = changed } })
  local after
  vim.wait(20000, function()
    vim.lsp.codelens.refresh()
    vim.wait(500, function() return false end, 100)
    local l = lens_ok(lens_titles())
    after = l and l.title
    return after ~= nil and after ~= before
  end, 100)
  res.codelens_after_at = after
  check('what_if_time_changes_lens', after ~= nil and after ~= before, (before or '?') .. ' -> ' .. (after or '?'))
end

-- 5. the freshlens/status notification
vim.wait(10000, function() return status_seen ~= nil end, 50)
res.status = status_seen
check('status_notification', type(status_seen) == 'table' and type(status_seen.build) == 'number',
  status_seen and vim.fn.json_encode(status_seen) or 'none')

vim.lsp.stop_client(id)
vim.wait(5000, function() return res.server_exit ~= nil end, 50)
finish()
