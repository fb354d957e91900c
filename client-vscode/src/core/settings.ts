// VS Code settings (`freshlens.*`) → the server's settings object (docs/internals.md, "Settings").
// Pure: the wrapper passes a getter over `workspace.getConfiguration('freshlens')`.

export type Regime = 'auto' | 'sao' | 'dbt-state';
export type Engine = 'auto' | 'core' | 'v2' | 'both';
export type Trace = 'off' | 'messages' | 'verbose';
export type OverrideSeverity = 'error' | 'warning' | 'information' | 'hint' | 'off';

/** Exactly the keys the server reads, with the server's defaults. */
export interface ServerSettings {
  state: string;
  sources: string;
  liveFreshness: boolean;
  regime: Regime;
  at: string;
  lenses: boolean;
  inlayHints: boolean;
  vars: Record<string, unknown>;
  envVars: boolean;
  severityOverrides: Record<string, OverrideSeverity>;
  engine: Engine;
  trace: Trace;
}

export const DEFAULTS: Readonly<ServerSettings> = Object.freeze({
  state: '',
  sources: '',
  liveFreshness: false,
  regime: 'auto',
  at: '',
  lenses: true,
  inlayHints: false,
  vars: {},
  envVars: false,
  severityOverrides: {},
  engine: 'auto',
  trace: 'off',
});

/** Reads one VS Code setting below `freshlens.` (e.g. `trace.server`); undefined when unset. */
export type SettingGetter = (key: string) => unknown;

const REGIMES: readonly string[] = ['auto', 'sao', 'dbt-state'];
const ENGINES: readonly string[] = ['auto', 'core', 'v2', 'both'];
const TRACES: readonly string[] = ['off', 'messages', 'verbose'];
const SEVERITIES: readonly string[] = ['error', 'warning', 'information', 'hint', 'off'];
/** Aliases users type from other tools' settings. */
const SEVERITY_ALIASES: Record<string, OverrideSeverity> = { info: 'information', warn: 'warning', none: 'off' };

function str(v: unknown, fallback: string): string {
  return typeof v === 'string' ? v.trim() : fallback;
}

function bool(v: unknown, fallback: boolean): boolean {
  return typeof v === 'boolean' ? v : fallback;
}

function oneOf<T extends string>(v: unknown, allowed: readonly string[], fallback: T): T {
  return typeof v === 'string' && allowed.includes(v) ? (v as T) : fallback;
}

/** A JSON object setting (dbt's `--vars`); anything else is `{}`. */
export function plainObject(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? { ...(v as Record<string, unknown>) } : {};
}

/** Keep valid `{code: severity}` pairs; codes upper-cased, unknown severities dropped. */
export function normalizeOverrides(v: unknown): Record<string, OverrideSeverity> {
  const out: Record<string, OverrideSeverity> = {};
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    return out;
  }
  for (const [code, sev] of Object.entries(v as Record<string, unknown>)) {
    if (typeof sev !== 'string' || code.trim() === '') {
      continue;
    }
    const s = sev.trim().toLowerCase();
    const norm = SEVERITY_ALIASES[s] ?? (SEVERITIES.includes(s) ? (s as OverrideSeverity) : undefined);
    if (norm) {
      out[code.trim().toUpperCase()] = norm;
    }
  }
  return out;
}

/** Build the object sent as `initializationOptions` and as `settings.freshlens`. */
export function toServerSettings(get: SettingGetter): ServerSettings {
  return {
    state: str(get('state'), DEFAULTS.state),
    sources: str(get('sources'), DEFAULTS.sources),
    liveFreshness: bool(get('liveFreshness'), DEFAULTS.liveFreshness),
    regime: oneOf<Regime>(get('regime'), REGIMES, DEFAULTS.regime),
    at: str(get('at'), DEFAULTS.at),
    lenses: bool(get('lenses'), DEFAULTS.lenses),
    inlayHints: bool(get('inlayHints'), DEFAULTS.inlayHints),
    vars: plainObject(get('vars')),
    envVars: bool(get('envVars'), DEFAULTS.envVars),
    severityOverrides: normalizeOverrides(get('severityOverrides')),
    engine: oneOf<Engine>(get('engine'), ENGINES, DEFAULTS.engine),
    trace: oneOf<Trace>(get('trace.server'), TRACES, DEFAULTS.trace),
  };
}

/** The `workspace/didChangeConfiguration` payload. */
export function didChangeConfigurationParams(settings: ServerSettings): { settings: { freshlens: ServerSettings } } {
  return { settings: { freshlens: settings } };
}

/**
 * What a configuration change needs: a restart (a different interpreter), a push of the new
 * settings to the running server, or nothing. `affects(section)` is
 * `ConfigurationChangeEvent.affectsConfiguration`.
 */
export function reactionTo(affects: (section: string) => boolean): 'restart' | 'push' | 'none' {
  if (affects('freshlens.server.python')) {
    return 'restart';
  }
  return affects('freshlens') ? 'push' : 'none';
}
