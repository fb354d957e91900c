// Text the extension shows: the status bar item (from `freshlens/status`), the models of a plan (from
// the server command `freshlens.plan`) and explanations. Pure. The plan itself is a webview (./webview).

export interface Status {
  build?: number;
  reuse?: number;
  unknown?: number;
  other?: number;
  health?: 'ok' | 'indexing' | 'error' | string;
  message?: string;
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
  const totals = parts.join(' · ');
  const msg = (s.message ?? '').trim();
  const tail = '\nClick to show the plan for the next run.';
  if (s.health === 'error') {
    return { text: `$(error) freshlens: ${totals}`, tooltip: `freshlens: ${msg || 'error'}${tail}`, kind: 'error' };
  }
  if (s.health === 'indexing') {
    return { text: `$(sync~spin) freshlens: ${totals}`, tooltip: `freshlens: ${msg || 'indexing the project'}…${tail}`, kind: 'busy' };
  }
  return { text: `$(check) freshlens: ${totals}`, tooltip: `freshlens: ${msg || 'up to date'}${tail}`, kind: 'ok' };
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
