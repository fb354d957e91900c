import assert from 'node:assert/strict';
import { test } from 'node:test';
import { explainMarkdown, planRows, statusView } from '../src/core/present';
import { versionMismatch } from '../src/core/version';

test('status bar shows totals and health', () => {
  const v = statusView({ build: 12, reuse: 48, unknown: 0, other: 0, health: 'ok', message: '' });
  assert.equal(v.text, '$(check) freshlens: 12 build · 48 reuse');
  assert.equal(v.kind, 'ok');
  const u = statusView({ build: 1, reuse: 2, unknown: 3, health: 'indexing' });
  assert.equal(u.text, '$(sync~spin) freshlens: 1 build · 2 reuse · 3 unknown');
  const e = statusView({ build: 0, reuse: 0, health: 'error', message: 'cannot read state.db' });
  assert.equal(e.kind, 'error');
  assert.match(e.tooltip, /cannot read state.db/);
});

test('plan rows are found under the usual keys', () => {
  assert.equal(planRows({ models: [{ name: 'a' }, { name: 'b' }] }).length, 2);
  assert.equal(planRows([{ name: 'a' }]).length, 1);
  assert.deepEqual(planRows({ decisions: { 'model.p.a': { action: 'Build' } } }), [{ unique_id: 'model.p.a', action: 'Build' }]);
  assert.deepEqual(planRows({ nothing: 1 }), []);
});

test('a workspace with several projects gives the rows of every project', () => {
  const plan = {
    version: 1,
    projects: [
      { project: 'jaffle_fresh', models: [{ unique_id: 'model.j.fct_orders', name: 'fct_orders', action: 'reuse' }] },
      { project: 'mistakes', models: [{ name: 'a', action: 'no-op' }] },
    ],
  };
  assert.deepEqual(planRows(plan).map((r) => r.name), ['fct_orders', 'a']);
});

test('explain results give their markdown', () => {
  assert.equal(explainMarkdown({ markdown: '# orders' }), '# orders');
  assert.equal(explainMarkdown('# raw'), '# raw');
  assert.match(explainMarkdown(null), /no explanation/);
});

test('version mismatch warns, matching releases do not', () => {
  assert.equal(versionMismatch('0.1.0', '0.1.0'), undefined);
  assert.equal(versionMismatch('0.1.0', '0.1.0.dev3+g1234'), undefined);
  assert.match(versionMismatch('0.2.0', '0.1.0') ?? '', /server is version 0\.1\.0 but the extension is 0\.2\.0.*Upgrade the server/);
  assert.match(versionMismatch('0.1.0', '0.2.0') ?? '', /Update the freshlens extension/);
  assert.match(versionMismatch('0.1.0', undefined) ?? '', /did not report its version/);
});
