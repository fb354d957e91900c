import assert from 'node:assert/strict';
import { test } from 'node:test';
import { age, explainMarkdown, planRows, statusView } from '../src/core/present';
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

test('status bar says when state is missing or behind, and the tooltip how old it is', () => {
  const fresh = statusView({ build: 1, reuse: 2, health: 'ok', state: { age_s: 7200, source: 'dbt platform job 7, run 42' } });
  assert.equal(fresh.text, '$(check) freshlens: 1 build · 2 reuse');
  assert.match(fresh.tooltip, /state: newest run from dbt platform job 7, run 42, 2 h ago/);
  const none = statusView({ build: 0, reuse: 0, unknown: 5, health: 'ok', state: { missing: true, message: 'p: no state yet' } });
  assert.equal(none.text, '$(warning) freshlens: 0 build · 0 reuse · 5 unknown · no state');
  assert.match(none.tooltip, /state: none yet\. p: no state yet/);
  const behind = statusView({ build: 0, reuse: 3, health: 'ok', state: { stale: true, age_s: 40, message: 'ingest it' } });
  assert.equal(behind.text, '$(warning) freshlens: 0 build · 3 reuse · state behind');
  assert.match(behind.tooltip, /40 s ago\ningest it/);
  assert.deepEqual([age(30), age(600), age(5 * 3600), age(3 * 86400)], ['30 s', '10 min', '5 h', '3 d']);
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
