// Text the extension shows: the status bar item (from `freshlens/status`), the models of a plan (from
// the server command `freshlens.plan`) and explanations. Pure. The plan itself is a webview (./webview).

export interface StateInfo {
  /** No project has any state yet. */
  missing?: boolean;
  /** A local dbt run finished after the newest run the state holds. */
  stale?: boolean;
  /** Age of the newest run in the state (the oldest over the projects), in seconds. */
  age_s?: number | null;
  /** Where that run came from ("dbt platform job 7, run 42", a folder, an s3:// URL). */
  source?: string | null;
  message?: string;
}

export interface Status {
  build?: number;
  reuse?: number;
  unknown?: number;
  other?: number;
  health?: 'ok' | 'indexing' | 'error' | string;
  message?: string;
  state?: StateInfo;
}

/** "3 min", "5 h", "2 d": how old the state's newest run is. */
export function age(seconds: number): string {
  if (seconds < 90) {
    return `${Math.max(0, Math.round(seconds))} s`;
  }
  if (seconds < 90 * 60) {
    return `${Math.round(seconds / 60)} min`;
  }
  if (seconds < 36 * 3600) {
    return `${Math.round(seconds / 3600)} h`;
  }
  return `${Math.round(seconds / 86400)} d`;
}

function stateLine(st: StateInfo | undefined): string {
  if (!st) {
    return '';
  }
  if (st.missing) {
    return `\nstate: none yet. ${st.message ?? ''}`.trimEnd();
  }
  const from = st.source ? ` from ${st.source}` : '';
  const old = typeof st.age_s === 'number' ? `, ${age(st.age_s)} ago` : '';
  const head = `\nstate: newest run${from}${old}`;
  // the message says why it is behind, or which projects have no state yet beside those that do
  return st.message ? `${head}\n${st.message}` : head;
}

export interface StatusView {
  text: string;
  tooltip: string;
  /** 'error' asks the wrapper for the error background colour. */
  kind: 'ok' | 'busy' | 'error';
}

function n(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/** `freshlens: 12 build · 48 reuse` (+ `· 3 unknown` when any) with a health icon. */
export function statusView(s: Status | undefined): StatusView {
  if (!s) {
    return { text: '$(sync~spin) freshlens: starting', tooltip: 'freshlens: starting the language server', kind: 'busy' };
  }
  const parts = [`${n(s.build)} build`, `${n(s.reuse)} reuse`];
  if (n(s.unknown) > 0) {
    parts.push(`${n(s.unknown)} unknown`);
  }
  if (n(s.other) > 0) {
    parts.push(`${n(s.other)} other`);
  }
  if (s.state?.missing) {
    parts.push('no state');
  } else if (s.state?.stale) {
    parts.push('state behind');
  }
  const totals = parts.join(' · ');
  const msg = (s.message ?? '').trim();
  const tail = `${stateLine(s.state)}\nClick to show the plan for the next run.`;
  if (s.health === 'error') {
    return { text: `$(error) freshlens: ${totals}`, tooltip: `freshlens: ${msg || 'error'}${tail}`, kind: 'error' };
  }
  if (s.health === 'indexing') {
    return { text: `$(sync~spin) freshlens: ${totals}`, tooltip: `freshlens: ${msg || 'indexing the project'}…${tail}`, kind: 'busy' };
  }
  const icon = s.state?.missing || s.state?.stale ? '$(warning)' : '$(check)';
  return { text: `${icon} freshlens: ${totals}`, tooltip: `freshlens: ${msg || 'up to date'}${tail}`, kind: 'ok' };
}

/** A status bar view for a server that is not running, with the reason. */
export function stoppedView(reason: string): StatusView {
  return { text: '$(error) freshlens: stopped', tooltip: `freshlens: ${reason}\nClick to show the output.`, kind: 'error' };
}

type Row = Record<string, unknown>;

/** One plan per dbt project: a workspace with several projects answers `{projects: [plan, …]}`. */
export function planProjects(plan: unknown): unknown[] {
  if (plan && typeof plan === 'object' && !Array.isArray(plan) && Array.isArray((plan as Row).projects)) {
    return (plan as Row).projects as unknown[];
  }
  return [plan];
}

/** The list of per-model rows in a plan (of every project), whatever its container key. */
export function planRows(plan: unknown): Row[] {
  const projects = planProjects(plan);
  if (projects.length !== 1 || projects[0] !== plan) {
    return projects.flatMap((p) => planRows(p));
  }
  if (Array.isArray(plan)) {
    return plan.filter((r): r is Row => r !== null && typeof r === 'object');
  }
  if (plan && typeof plan === 'object') {
    for (const key of ['models', 'decisions', 'nodes', 'plan', 'rows']) {
      const v = (plan as Row)[key];
      if (Array.isArray(v)) {
        return planRows(v);
      }
      if (v && typeof v === 'object') {
        // {unique_id: {...}} maps
        return Object.entries(v as Row).map(([id, r]) => ({ unique_id: id, ...(r as Row) }));
      }
    }
  }
  return [];
}

/** The markdown of a `freshlens.explain` result (`{"markdown": str}`), tolerant of a bare string. */
export function explainMarkdown(result: unknown): string {
  if (typeof result === 'string') {
    return result;
  }
  if (result && typeof result === 'object' && typeof (result as Row).markdown === 'string') {
    return (result as Row).markdown as string;
  }
  return 'freshlens: the server returned no explanation for this model.';
}
