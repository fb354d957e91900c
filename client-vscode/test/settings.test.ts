import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULTS, didChangeConfigurationParams, normalizeOverrides, reactionTo, toServerSettings } from '../src/core/settings';

const from = (o: Record<string, unknown>) => (key: string) => o[key];

test('no settings → the server defaults of docs/internals.md', () => {
  assert.deepEqual(toServerSettings(from({})), DEFAULTS);
});

test('every VS Code setting maps to its server key', () => {
  const s = toServerSettings(
    from({
      state: ' target/prod ',
      sources: 'target/sources.json',
      liveFreshness: true,
      regime: 'dbt-state',
      at: '2026-06-02T06:00:00Z',
      lenses: false,
      inlayHints: true,
      vars: { enable_optional: true },
      envVars: true,
      severityOverrides: { FL110: 'error' },
      engine: 'v2',
      'trace.server': 'verbose',
      'server.python': '/x/python',
    }),
  );
  assert.deepEqual(s, {
    state: 'target/prod',
    sources: 'target/sources.json',
    liveFreshness: true,
    regime: 'dbt-state',
    at: '2026-06-02T06:00:00Z',
    lenses: false,
    inlayHints: true,
    vars: { enable_optional: true },
    envVars: true,
    severityOverrides: { FL110: 'error' },
    engine: 'v2',
    trace: 'verbose',
  });
  assert.ok(!('server' in s), 'the interpreter is the client’s business, not the server’s');
});

test('invalid values fall back to the defaults', () => {
  const s = toServerSettings(
    from({ regime: 'fusion', lenses: 'yes', 'trace.server': 'loud', at: 42, engine: 'fusion' }),
  );
  assert.equal(s.regime, 'auto');
  assert.equal(s.engine, 'auto');
  assert.equal(s.lenses, true);
  assert.equal(s.trace, 'off');
  assert.equal(s.at, '');
  assert.deepEqual(toServerSettings(from({ vars: ['a'] })).vars, {});
});

test('severity overrides: codes upper-cased, aliases accepted, junk dropped', () => {
  assert.deepEqual(normalizeOverrides({ fl110: 'Warn', FL201: 'off', FL202: 'loud', FL203: 3, FL204: 'info' }), {
    FL110: 'warning',
    FL201: 'off',
    FL204: 'information',
  });
  assert.deepEqual(normalizeOverrides(['FL110']), {});
  assert.deepEqual(normalizeOverrides(null), {});
});

test('didChangeConfiguration carries settings.freshlens', () => {
  const p = didChangeConfigurationParams(toServerSettings(from({ at: '2026-01-01T00:00:00Z' })));
  assert.equal(p.settings.freshlens.at, '2026-01-01T00:00:00Z');
});

test('only the interpreter setting needs a restart', () => {
  const affects = (changed: string[]) => (s: string) => changed.some((c) => c === s || c.startsWith(s + '.'));
  assert.equal(reactionTo(affects(['freshlens.server.python'])), 'restart');
  assert.equal(reactionTo(affects(['freshlens.at'])), 'push');
  assert.equal(reactionTo(affects(['freshlens.trace.server'])), 'push');
  assert.equal(reactionTo(affects(['editor.fontSize'])), 'none');
});
