import assert from 'node:assert/strict';
import { test } from 'node:test';
import { contentSecurityPolicy, fileToOpen, makeNonce, pageMessage, reportPage } from '../src/core/webview';

const NONCE = 'abcdefghijklmnop0123456789ABCDEF';

test('the page runs only its own nonce-carrying scripts and fetches nothing', () => {
  const page = reportPage({
    cspSource: 'https://file+.vscode-resource.example',
    nonce: NONCE,
    scripts: ['https://r/cytoscape.min.js', 'https://r/cytoscape-dagre.min.js', 'https://r/report.js'],
    style: 'https://r/report.css',
  });
  const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(page)?.[1] ?? '';
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, new RegExp(`script-src 'nonce-${NONCE}'(;|$)`));
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  const scripts = [...page.matchAll(/<script([^>]*)>/g)].map((m) => m[1]);
  assert.equal(scripts.length, 3);
  for (const s of scripts) {
    assert.match(s, new RegExp(`nonce="${NONCE}"`));
  }
  assert.ok(page.indexOf('cytoscape.min.js') < page.indexOf('cytoscape-dagre.min.js'));
  assert.ok(page.indexOf('cytoscape-dagre.min.js') < page.indexOf('report.js'));
  assert.match(page, /<div id="freshlens-report">/);
});

test('a weak nonce is refused', () => {
  assert.throws(() => reportPage({ cspSource: 'x', nonce: 'short', scripts: [], style: 's' }));
  assert.throws(() => reportPage({ cspSource: 'x', nonce: `${NONCE}"><script>`, scripts: [], style: 's' }));
});

test('nonces are long, alphanumeric and follow the random bytes', () => {
  const a = makeNonce((n) => new Uint8Array(n).map((_, i) => i * 7));
  assert.match(a, /^[A-Za-z0-9]{32}$/);
  assert.notEqual(a, makeNonce((n) => new Uint8Array(n).map((_, i) => i * 11)));
  assert.equal(contentSecurityPolicy('src', a).includes(`'nonce-${a}'`), true);
});

test('only well-formed messages from the page are acted on', () => {
  assert.deepEqual(pageMessage({ type: 'ready' }), { type: 'ready' });
  assert.deepEqual(pageMessage({ type: 'open', project: 'p', file: 'models/a.sql', id: 'x' }), {
    type: 'open',
    project: 'p',
    file: 'models/a.sql',
  });
  assert.equal(pageMessage({ type: 'open', project: 'p' }), undefined);
  assert.equal(pageMessage({ type: 'open', project: 'p', file: '' }), undefined);
  assert.equal(pageMessage('open'), undefined);
  assert.equal(pageMessage({ type: 'eval', code: '1' }), undefined);
});

test('a click opens the file under its project folder, and nothing outside it', () => {
  const report = { projects: [{ project: 'jaffle', root: '/w/jaffle/' }, { project: 'other', root: null }] };
  assert.equal(fileToOpen(report, { type: 'open', project: 'jaffle', file: 'models/a.sql' }), '/w/jaffle/models/a.sql');
  assert.equal(fileToOpen(report, { type: 'open', project: 'jaffle', file: 'models\\b.sql' }), '/w/jaffle/models/b.sql');
  assert.equal(fileToOpen(report, { type: 'open', project: 'jaffle', file: '../../etc/passwd' }), undefined);
  assert.equal(fileToOpen(report, { type: 'open', project: 'jaffle', file: '/etc/passwd' }), undefined);
  assert.equal(fileToOpen(report, { type: 'open', project: 'other', file: 'a.sql' }), undefined);
  assert.equal(fileToOpen(report, { type: 'open', project: 'nope', file: 'a.sql' }), undefined);
  assert.equal(fileToOpen(undefined, { type: 'open', project: 'jaffle', file: 'a.sql' }), undefined);
});
