// freshlens in real VS Code (code-server) driven through headless Chromium with playwright-core.
// Run by scripts/test-editors.sh; every input comes from the environment:
//   FL_REPO        repository root (the workspace opened is FL_REPO/examples)
//   FL_VSIX        the packaged extension
//   FL_E2E         folder holding node_modules/{code-server,playwright-core} (scripts/setup-editors.sh)
//   FL_ARTIFACTS   where screenshots and the result JSON go
//   FL_WORKSPACE   folder opened (default FL_REPO/examples); FL_STATE: freshlens.state
//   FL_AT, FL_AT2  what-if times: the first is in settings.json at start, the second is typed into
//                  the Settings editor
// Exits 0 when every check passes. On failure it prints what the screen showed.
'use strict';
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

const REPO = process.env.FL_REPO;
const VSIX = process.env.FL_VSIX;
const E2E = process.env.FL_E2E || path.join(REPO, 'client-vscode', '.e2e');
const ART = process.env.FL_ARTIFACTS || path.join(REPO, 'test-artifacts', 'vscode');
const AT1 = process.env.FL_AT || '';
const AT2 = process.env.FL_AT2 || '2031-01-01T00:00:00Z';
const WORKSPACE = process.env.FL_WORKSPACE || path.join(REPO, 'examples');
const MISTAKE = 'fl101_count_without_period.sql';
const MODEL = 'fct_orders.sql';
const OUTSIDE = 'scratch/not_dbt.sql';  // created by test-editors.sh next to the projects
const LENS_RE = /^(Build|Reuse|Clone|No-op|Skip|Unknown) · .+/;
const { chromium } = require(path.join(E2E, 'node_modules', 'playwright-core'));
const CODE_SERVER = path.join(E2E, 'node_modules', '.bin', 'code-server');

let NO_FRESHLENS_PYTHON;
const T0 = Date.now();
const say = (m) => console.log(`[vscode ${((Date.now() - T0) / 1000).toFixed(1)}s] ${m}`);
const result = { checks: {}, notes: [] };
let failed = false;
function check(name, ok, detail) {
  result.checks[name] = ok ? 'ok' : 'FAIL';
  if (!ok) failed = true;
  say(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ': ' + detail : ''}`);
}
// Once something failed, later waits are short: the report matters more than more timeouts.
const T = (ms) => (failed ? Math.min(ms, 5000) : ms);
const oneLine = (s) => String(s || '').replace(/\s+/g, ' ').trim();

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

async function waitForHttp(url, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try { const r = await fetch(url); if (r.status < 500) return; } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`code-server did not answer at ${url} within ${ms / 1000}s`);
}

function writeSettings(file, at) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify({
    'freshlens.server.python': path.join(REPO, '.venv', 'bin', 'python'),
    'freshlens.state': process.env.FL_STATE || '.freshlens/runs/1',
    'freshlens.sources': '.freshlens/current/sources.json',
    'freshlens.at': at,
    'freshlens.trace.server': 'verbose',  // the protocol log shows which files were sent
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'security.workspace.trust.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoUpdate': false,
    'extensions.autoCheckUpdates': false,
    'extensions.ignoreRecommendations': true,
    'editor.codeLens': true,
    'editor.hover.delay': 300,
    'editor.minimap.enabled': false,
    'chat.commandCenter.enabled': false,
  }, null, 2));
}

/** The visible text of the panels that matter, for a failure report. */
async function screenText(page) {
  const grab = async (sel) => {
    try {
      const els = await page.locator(sel).all();
      const texts = [];
      for (const e of els.slice(0, 30)) if (await e.isVisible()) texts.push(oneLine(await e.innerText()));
      return texts;
    } catch (e) { return [`(could not read: ${e.message.split('\n')[0]})`]; }
  };
  return {
    notifications: await grab('.notifications-toasts .notification-toast, .notification-list-item'),
    statusBar: await grab('.statusbar-item'),
    codeLenses: await grab('.codelens-decoration'),
    problems: await grab('.markers-panel .monaco-list-row'),
    hover: await grab('.monaco-hover'),
    editorTabs: await grab('.tabs-container .tab'),
    editorLines: (await grab('.editor-instance .view-line')).slice(0, 12),
    panel: (await grab('.part.panel .pane-body, .part.panel .output-view')).slice(0, 3).map((t) => t.slice(0, 2000)),
  };
}

/** The extension host's logs and the freshlens output channel's log, under code-server's logs folder. */
function findLogs(dir) {
  const out = [];
  const walk = (d) => { for (const f of fs.existsSync(d) ? fs.readdirSync(d, { withFileTypes: true }) : []) {
    const p = path.join(d, f.name); if (f.isDirectory()) walk(p); else if (/freshlens|exthost/i.test(f.name)) out.push(p); } };
  walk(dir);
  return out;
}

async function quickOpen(page, name) {
  await page.keyboard.press('Control+P');
  await page.waitForSelector('.quick-input-widget input', { timeout: 20000 });
  await page.keyboard.type(name);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: name }).first().waitFor({ timeout: 20000 });
  await page.keyboard.press('Enter');
  await page.locator('.tabs-container .tab.active', { hasText: name }).waitFor({ timeout: 20000 });
  await page.waitForSelector('.monaco-editor .view-lines', { timeout: 20000 });
}

async function lensText(page) {
  const lenses = page.locator('.editor-instance .codelens-decoration');
  const n = await lenses.count();
  for (let i = 0; i < n; i++) {
    const t = oneLine(await lenses.nth(i).innerText());
    if (LENS_RE.test(t)) return t;
  }
  return undefined;
}

async function waitFor(fn, ms, every = 300) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) return undefined;
    await new Promise((r) => setTimeout(r, every));
  }
}

async function runCommand(page, title) {
  await page.keyboard.press('Control+Shift+P');
  await page.waitForSelector('.quick-input-widget input', { timeout: 20000 });
  await page.keyboard.type(title);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor({ timeout: 10000 });
  await page.keyboard.press('Enter');
}

/** The frame of the plan webview (code-server nests it: iframe.webview > iframe#active-frame). */
async function planFrame(page, ms) {
  return waitFor(async () => {
    for (const f of page.frames()) {
      try { if (await f.$('#fl-table')) return f; } catch { /* a frame navigating away */ }
    }
    return undefined;
  }, ms);
}

async function tableNames(frame) {
  return frame.$$eval('#fl-table tbody tr a.fl-open', (as) => as.map((a) => a.textContent));
}

async function planWebviewChecks(page, shot) {
  const frame = await planFrame(page, T(30000));
  check('status_click_shows_plan', frame !== undefined, frame ? 'plan webview open' : 'no webview with the plan table');
  if (!frame) return;
  const rowsOk = await frame.waitForSelector('#fl-table tbody tr a.fl-open', { timeout: T(30000) }).then(() => true, () => false);
  const names = rowsOk ? await tableNames(frame) : [];
  const summary = oneLine(await frame.$eval('#fl-summary', (e) => e.textContent).catch(() => ''));
  check('plan_table', names.includes('fct_orders') && names.includes('stg_payments') && /would rebuild \d+ of \d+ models/.test(summary),
    `${names.length} rows; "${summary}"`);
  const graph = await frame.waitForSelector('#fl-graph[data-nodes] canvas', { timeout: T(30000) }).then(() => true, () => false);
  const gNodes = graph ? Number(await frame.$eval('#fl-graph', (e) => e.getAttribute('data-nodes'))) : 0;
  const gEdges = graph ? Number(await frame.$eval('#fl-graph', (e) => e.getAttribute('data-edges'))) : 0;
  // the graph shows one project at a time (a selector picks it): jaffle_fresh's models and their sources
  const jaffleRows = await frame.$$eval('#fl-table tbody tr', (trs) => trs.filter((tr) => tr.children[6].textContent === 'jaffle_fresh').length);
  const projects = await frame.$$eval('#fl-project option', (os) => os.map((o) => o.value));
  check('plan_graph', gNodes > jaffleRows && jaffleRows >= 15 && gEdges > 0 && projects.join() === 'jaffle_fresh,mistakes',
    `${gNodes} nodes (${jaffleRows} models + sources), ${gEdges} edges drawn; projects ${projects.join(', ')}`);
  await page.waitForTimeout(500);  // the layout's fit animation
  await page.mouse.move(5, 840);
  await shot('07-plan.png');
  // filter and sort: all rows match the filter, and Model sorts by name
  await frame.fill('#fl-filter', 'stg_');
  const filtered = await waitFor(async () => { const n = await tableNames(frame); return n.length > 0 && n.every((x) => x.startsWith('stg_')) ? n : undefined; }, T(10000));
  await frame.click('#fl-table th[data-key="name"]');
  const sorted = filtered ? await tableNames(frame) : [];
  check('plan_filter_sort', filtered !== undefined && sorted.join() === [...sorted].sort().join() && sorted.length === filtered.length,
    sorted.join(', ') || 'filter showed nothing');
  // selecting a row focuses that model's up/downstream in the graph
  await frame.click('#fl-table tbody tr[data-id$=".stg_payments"] td:nth-child(3)');
  const focus = await waitFor(async () => { const f = await frame.$eval('#fl-graph', (e) => e.getAttribute('data-focus')); return f && f.endsWith('.stg_payments') ? f : undefined; }, T(10000));
  check('plan_select_focuses_graph', focus !== undefined, focus || 'graph not focused on stg_payments');
  // clicking a model's name opens its file
  await frame.click('#fl-table tbody tr[data-id$=".stg_payments"] a.fl-open');
  const tab = page.locator('.tabs-container .tab', { hasText: 'stg_payments.sql' }).first();
  const opened = await tab.waitFor({ timeout: T(20000) }).then(() => true, () => false);
  check('plan_click_opens_file', opened, opened ? 'stg_payments.sql opened' : 'no stg_payments.sql tab');
  await page.waitForTimeout(500);
  await shot('07b-plan-open-model.png');
  // live: an edit of the model's SQL (the file that just opened, beside the plan) re-plans in the
  // server, and the plan, still open, shows it will build
  const editor = page.locator('.editor-group-container.active .monaco-editor .view-lines').first();
  await editor.click();
  await page.keyboard.press('Control+End');
  await page.keyboard.press('Enter');
  await page.keyboard.type('where p.amount_cents > 0');
  await page.keyboard.press('Escape');  // a suggestion list, if one opened
  const action = async () => frame.$eval('#fl-table tbody tr[data-id$=".stg_payments"] .fl-action', (e) => e.textContent).catch(() => '');
  const live = await waitFor(async () => ((await action()) === 'build' ? 'build' : undefined), T(30000));
  const flows = Number(await frame.$eval('#fl-graph', (e) => e.getAttribute('data-new-data-edges')).catch(() => 0));
  check('plan_updates_live', live !== undefined, live ? `stg_payments now builds; ${flows} edges carry new data` : `stg_payments still "${await action()}"`);
  await page.mouse.move(5, 840);
  await page.waitForTimeout(400);
  await shot('07c-plan-live-edit.png');
  // put the file back and close it, so the workbench is as the next steps expect (one editor group)
  await editor.click();
  await runCommand(page, 'File: Revert File');
  await page.waitForTimeout(500);
  await page.keyboard.press('Control+W');
  const refused = result.notes.filter((n) => /Content Security Policy|Refused to (load|execute|apply|connect)/.test(n));
  check('plan_csp_clean', refused.length === 0, refused[0] || 'no CSP violation reported');
}

/** `freshlens plan --format html` (FL_PLAN_HTML) opened from disk: table, graph, filter, no network. */
async function standaloneHtmlChecks(ctx) {
  const file = process.env.FL_PLAN_HTML;
  if (!file) return;
  const page = await ctx.newPage();
  const errors = [];
  const requests = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('request', (r) => { if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) requests.push(r.url()); });
  await page.goto('file://' + file);
  const rows = await page.waitForSelector('#fl-table tbody tr', { timeout: T(20000) }).then(() => page.$$eval('#fl-table tbody tr', (t) => t.length), () => 0);
  const nodes = Number(await page.$eval('#fl-graph', (e) => e.getAttribute('data-nodes')).catch(() => 0));
  const flows = Number(await page.$eval('#fl-graph', (e) => e.getAttribute('data-new-data-edges')).catch(() => 0));
  await page.fill('#fl-filter', 'fct_');
  const filtered = await page.$$eval('#fl-table tbody tr a.fl-open', (as) => as.map((a) => a.textContent));
  check('html_report', rows >= 15 && nodes > rows && filtered.length > 0 && filtered.every((n) => n.startsWith('fct_')) && errors.length === 0 && requests.length === 0,
    `${rows} rows, ${nodes} graph nodes, ${flows} new-data edges; filter fct_ → ${filtered.join(', ')}; ${errors.length} errors, ${requests.length} network requests`);
  await page.fill('#fl-filter', '');
  await page.setViewportSize({ width: 1400, height: 850 });
  await page.screenshot({ path: path.join(ART, '11-plan-html.png') });
  say('screenshot 11-plan-html.png');
  await page.close();
}

async function main() {
  fs.mkdirSync(ART, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'freshlens-vscode-'));
  const userData = path.join(tmp, 'user-data');
  const extDir = path.join(tmp, 'extensions');
  const settingsFile = path.join(userData, 'User', 'settings.json');
  const env = {
    ...process.env,
    XDG_DATA_HOME: path.join(tmp, 'xdg-data'), XDG_CONFIG_HOME: path.join(tmp, 'xdg-config'),
    XDG_CACHE_HOME: path.join(tmp, 'xdg-cache'), XDG_STATE_HOME: path.join(tmp, 'xdg-state'),
  };
  writeSettings(settingsFile, AT1);
  // A stand-in interpreter without freshlens for the install prompt: its "pip install" only echoes,
  // so accepting the prompt in the test never installs anything from PyPI.
  NO_FRESHLENS_PYTHON = path.join(tmp, 'no-freshlens', 'python3');
  fs.mkdirSync(path.dirname(NO_FRESHLENS_PYTHON));
  fs.writeFileSync(NO_FRESHLENS_PYTHON, '#!/bin/sh\nif [ "$1" = "-m" ] && [ "$2" = "pip" ]; then echo "stand-in pip: $*" | tee "$0.ran"; exit 0; fi\n' +
    'echo "ModuleNotFoundError: No module named \'freshlens\'" >&2; exit 1\n', { mode: 0o755 });
  execFileSync(CODE_SERVER, ['--user-data-dir', userData, '--extensions-dir', extDir, '--install-extension', VSIX],
    { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120000 });
  say(`installed ${path.basename(VSIX)}`);

  const port = await freePort();
  const logFile = path.join(ART, 'code-server.log');
  const log = fs.openSync(logFile, 'w');
  // detached → its own process group, so the whole tree can be killed at the end.
  const cs = spawn(CODE_SERVER, ['--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--disable-telemetry',
    '--disable-update-check', '--disable-workspace-trust', '--user-data-dir', userData, '--extensions-dir', extDir,
    WORKSPACE], { env, detached: true, stdio: ['ignore', log, log] });
  const killAll = () => { try { process.kill(-cs.pid, 'SIGKILL'); } catch { /* already gone */ } };
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { killAll(); process.exit(130); });

  const profile = path.join(tmp, 'chromium-profile');
  let ctx;
  try {
    await waitForHttp(`http://127.0.0.1:${port}/healthz`, 60000);
    say(`code-server on port ${port}`);
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1400, height: 850 },
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    await standaloneHtmlChecks(ctx);
    const page = ctx.pages()[0] || (await ctx.newPage());
    page.on('console', (m) => { if (m.type() === 'error') result.notes.push('[browser] ' + m.text().slice(0, 300)); });
    const shot = async (name) => { await page.screenshot({ path: path.join(ART, name) }); say(`screenshot ${name}`); };
    try {
      await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(WORKSPACE)}`);
      await page.waitForSelector('.monaco-workbench', { timeout: 90000 });
      await page.waitForSelector('.explorer-folders-view, .explorer-viewlet', { timeout: 60000 });
      say('workbench loaded');
      await page.locator('.monaco-workbench').click({ position: { x: 700, y: 400 } });

      // (1) the Problems panel lists FL101 for the file of examples/mistakes that holds it
      await quickOpen(page, MISTAKE);
      await page.keyboard.press('Control+Shift+M');
      await page.waitForSelector('.markers-panel', { timeout: 20000 });
      const filter = page.locator('.part.panel .viewpane-filter input, .markers-panel-action-filter input').first();
      if (await filter.count()) { await filter.fill('FL101'); }
      // hasText strings match case-insensitively (the file row `fl101_…` too): a regex on the code and position.
      const row = page.locator('.markers-panel .monaco-list-row', { hasText: /FL101\)?\s*\[Ln \d+/ }).first();
      const rowOk = await row.waitFor({ timeout: T(90000) }).then(() => true, () => false);
      const rowText = rowOk ? oneLine(await row.innerText()) : '';
      check('problems_FL101', rowOk && /FL101/.test(rowText) && /period/.test(rowText), rowText || 'no FL101 row');
      await page.mouse.move(5, 840);
      await shot('01-problems.png');
      if (await filter.count()) { await filter.fill(''); }

      // (2) a Build/Reuse code lens on a model of examples/jaffle_fresh
      await quickOpen(page, MODEL);
      const lens1 = await waitFor(() => lensText(page), T(60000));
      check('codelens', lens1 !== undefined, lens1 || 'no Build/Reuse lens');
      await page.mouse.move(5, 840);
      await shot('02-codelens.png');

      // an SQL file outside any dbt project: the extension must leave it alone (checked in the log)
      if (fs.existsSync(path.join(WORKSPACE, OUTSIDE))) {
        await quickOpen(page, path.basename(OUTSIDE));
        await page.waitForTimeout(1000);
        await page.locator('.tabs-container .tab', { hasText: MODEL }).first().click();
      }

      // (3) hovering the model's first line explains the decision
      const first = page.locator('.editor-instance .view-line').first();
      const box = await first.boundingBox();
      await page.mouse.move(box.x + 8, box.y + box.height / 2);
      const hover = page.locator('.monaco-hover:visible', { hasText: /fct_orders/ }).first();
      const hovOk = await hover.waitFor({ state: 'visible', timeout: T(30000) }).then(() => true, () => false);
      const hovText = hovOk ? oneLine(await hover.innerText()) : '';
      check('hover', hovOk && /(Build|Reuse|Unknown|No-op)/.test(hovText), hovText.slice(0, 120) || 'no hover');
      await page.waitForTimeout(400);
      await shot('03-hover.png');
      await page.mouse.move(1000, 300);
      await page.keyboard.press('Escape');

      // (3b) completion inside ref('…'): the project's models, narrowed to what is typed
      await page.locator('.tabs-container .tab', { hasText: MODEL }).first().click();
      await page.keyboard.press('Control+End');
      await page.keyboard.press('Enter');
      await page.keyboard.type("-- {{ ref('stg_", { delay: 25 });
      await page.keyboard.press('Control+Space');
      const sugg = page.locator('.suggest-widget .monaco-list-row', { hasText: 'stg_orders' }).first();
      const sgOk = await sugg.waitFor({ state: 'visible', timeout: T(20000) }).then(() => true, () => false);
      const rows = sgOk ? (await page.locator('.suggest-widget .monaco-list-row').allInnerTexts()).map(oneLine) : [];
      check('completion', sgOk && rows.length > 0 && rows.every((r) => /stg_/.test(r)), rows.join(' | ').slice(0, 200) || 'no suggestion list');
      await shot('03b-completion.png');
      await page.keyboard.press('Escape');
      await runCommand(page, 'File: Revert File');  // the typing is thrown away, never saved

      // (3c) go to definition on ref('stg_orders') lands on that model's file, first line
      await page.keyboard.press('Control+F');
      await page.keyboard.type("ref('stg_orders", { delay: 10 });
      await page.keyboard.press('Enter');
      await page.keyboard.press('Escape');
      await page.keyboard.press('ArrowLeft');  // the caret at the start of the match
      for (let i = 0; i < 8; i++) await page.keyboard.press('ArrowRight');  // inside the model's name
      await page.keyboard.press('F12');
      const target = page.locator('.tabs-container .tab.active', { hasText: 'stg_orders.sql' }).first();
      const goOk = await target.waitFor({ timeout: T(20000) }).then(() => true, () => false);
      // the status bar's caret position follows the new editor a moment later
      const caret = page.locator('.statusbar-item', { hasText: /Ln \d+, Col \d+/ }).first();
      const where = await waitFor(async () => {
        const t = oneLine(await caret.innerText().catch(() => ''));
        return /Ln 1, Col 1/.test(t) ? t : undefined;
      }, T(10000)) || oneLine(await caret.innerText().catch(() => ''));
      check('go_to_definition', goOk && /Ln 1, Col 1/.test(where), goOk ? `stg_orders.sql ${where}` : 'did not open stg_orders.sql');
      await shot('03c-definition.png');
      await page.locator('.tabs-container .tab', { hasText: MODEL }).first().click();

      // (5) the status bar shows the totals from freshlens/status
      const status = page.locator('.statusbar-item', { hasText: /freshlens: \d+ build · \d+ reuse/ }).first();
      const stOk = await status.waitFor({ timeout: T(30000) }).then(() => true, () => false);
      check('status_bar', stOk, stOk ? oneLine(await status.innerText()) : 'no "freshlens: N build · M reuse" item');
      await shot('04-status-bar.png');
      const mismatch = page.locator('.notifications-toasts .notification-toast', { hasText: /language server (is version|did not report)/ });
      check('no_version_warning', (await mismatch.count()) === 0, 'server and extension are both ' + require(path.join(REPO, 'client-vscode', 'package.json')).version);

      // (4) changing the what-if time in the Settings editor changes the lens, without a restart
      await page.keyboard.press('Control+Comma');
      const search = page.locator('.settings-editor .settings-header .monaco-editor textarea, .settings-editor .suggest-input-container textarea').first();
      await search.waitFor({ timeout: 30000 });
      await search.fill('freshlens.at');
      const atInput = page.locator('.settings-editor .setting-item-contents', { hasText: /What-if time/ }).locator('input').first();
      await atInput.waitFor({ timeout: 30000 });
      await atInput.fill(AT2);
      await atInput.press('Tab');
      await page.waitForTimeout(1500);  // the Settings editor writes after a short debounce
      await shot('05-settings-what-if.png');
      await page.locator('.tabs-container .tab', { hasText: MODEL }).first().click();
      const lens2 = await waitFor(async () => { const t = await lensText(page); return t && t !== lens1 ? t : undefined; }, T(60000));
      check('what_if_time_changes_lens', lens1 !== undefined && lens2 !== undefined, `${lens1} -> ${lens2 || '(unchanged)'}`);
      await page.mouse.move(5, 840);
      await shot('06-what-if-lens.png');

      // (6) clicking the status bar item opens the plan webview: its table and graph, a click on a
      // model opens its file, selecting a row focuses its lineage, and it follows a re-plan
      if (stOk) {
        await runCommand(page, 'View: Hide Panel');  // room for the plan (Problems was open)
        await status.click();
        await planWebviewChecks(page, shot);
      } else {
        check('status_click_shows_plan', false, 'no status bar item to click');
      }

      // (7) clicking the lens opens the explanation
      await page.locator('.tabs-container .tab', { hasText: MODEL }).first().click();
      const lensLink = page.locator('.editor-instance .codelens-decoration a', { hasText: LENS_RE }).first();
      if (await lensLink.waitFor({ timeout: T(30000) }).then(() => true, () => false)) {
        await page.mouse.move(1000, 300);
        await lensLink.click();
        const tab = page.locator('.tabs-container .tab', { hasText: /fct_orders/ }).filter({ hasText: /Preview|\.md/ }).first();
        const exOk = await tab.waitFor({ timeout: T(30000) }).then(() => true, () => false);
        check('lens_click_explains', exOk, exOk ? oneLine(await tab.innerText()) : 'no explanation opened');
        await page.waitForTimeout(1000);
        await shot('08-explain.png');
      } else {
        check('lens_click_explains', false, 'no lens to click');
      }

      // (9) an interpreter without freshlens: a plain-words message that offers the pip command,
      // which runs in a terminal on accept (the server restarts when this setting changes)
      await page.locator('.tabs-container .tab', { hasText: MODEL }).first().click();  // focus out of the preview webview
      await page.keyboard.press('Control+Comma');
      await search.waitFor({ timeout: 30000 });
      await search.fill('freshlens.server.python');
      const pyInput = page.locator('.settings-editor .setting-item-contents', { hasText: /runs the freshlens language server/ }).locator('input').first();
      await pyInput.waitFor({ timeout: 30000 });
      await pyInput.fill(NO_FRESHLENS_PYTHON);
      await pyInput.press('Tab');
      const toast = page.locator('.notifications-toasts .notification-toast', { hasText: /cannot import freshlens/ }).first();
      const toastOk = await toast.waitFor({ timeout: T(30000) }).then(() => true, () => false);
      const toastText = toastOk ? oneLine(await toast.innerText()) : '';
      check('missing_freshlens_message', toastOk && toastText.includes(`${NO_FRESHLENS_PYTHON} -m pip install freshlens`), toastText || 'no message');
      await shot('09-missing-freshlens.png');
      if (toastOk) {
        await toast.locator('a.monaco-button, .monaco-button', { hasText: 'Install in terminal' }).first().click();
        const term = page.locator('.terminal-tab, .single-terminal-tab, .tabs-list .terminal-tabs-entry', { hasText: /freshlens install/ }).first();
        // The terminal draws on a canvas: the stand-in pip leaves a file to prove the command ran.
        const ranFile = NO_FRESHLENS_PYTHON + '.ran';
        const termOk = await term.waitFor({ timeout: T(30000) }).then(() => true, () => false)
          && (await waitFor(() => fs.existsSync(ranFile) && /-m pip install freshlens/.test(fs.readFileSync(ranFile, 'utf8')), T(30000))) === true;
        check('install_runs_in_terminal', termOk, termOk ? 'terminal "freshlens install" ran the pip command' : 'no terminal or no pip run');
        await page.waitForTimeout(1500);
        await shot('10-install-terminal.png');
      }
    } catch (e) {
      failed = true;
      say('FAIL ' + e.message.split('\n')[0]);
    }
    result.notifications = (await screenText(page)).notifications;
    const clientLog = findLogs(path.join(userData, 'logs')).filter((p) => /freshlens\.log$/.test(p)).map((p) => fs.readFileSync(p, 'utf8')).join('\n');
    if (fs.existsSync(path.join(WORKSPACE, OUTSIDE))) {
      const sentModel = /didOpen[\s\S]{0,400}fct_orders\.sql/.test(clientLog);
      check('other_sql_files_left_alone', sentModel && !clientLog.includes('not_dbt.sql'),
        sentModel ? (clientLog.includes('not_dbt.sql') ? `${OUTSIDE} was sent to the server` : `${OUTSIDE} never sent; ${MODEL} was`) : 'no didOpen for the model in the log');
    }
    if (failed) {
      await page.screenshot({ path: path.join(ART, 'failure.png') }).catch(() => {});
      result.screen = await screenText(page);
      console.log('--- what the screen showed ---');
      for (const [k, v] of Object.entries(result.screen)) console.log(`${k}:\n  ${(v.length ? v : ['(nothing)']).join('\n  ')}`);
    }
  } finally {
    if (ctx) await ctx.close().catch(() => {});
    killAll();
    if (failed) {
      // The extension's own output (client log + protocol trace) says why the server did what it did.
      for (const p of findLogs(path.join(userData, 'logs'))) {
        const text = fs.readFileSync(p, 'utf8');
        fs.copyFileSync(p, path.join(ART, path.basename(p)));
        console.log(`--- ${path.relative(userData, p)} (last lines) ---\n${text.split('\n').slice(-40).join('\n')}`);
      }
      console.log(`--- code-server log: ${logFile}`);
    }
    fs.writeFileSync(path.join(ART, 'result.json'), JSON.stringify(result, null, 2));
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(() => process.exit(failed ? 1 : 0), (e) => { console.error(e); process.exit(2); });
