// The plan webview's page and the messages it sends. Pure: the wrapper (extension.ts) supplies the
// webview's URIs and a nonce. The page loads the same files as `freshlens plan --format html`
// inlines (copied into media/report/ by esbuild.mjs from server/freshlens/report/assets/).

/** Files under media/report/, in load order: renderer, layout, the report UI. */
export const REPORT_SCRIPTS = ['cytoscape.min.js', 'cytoscape-dagre.min.js', 'report.js'] as const;
export const REPORT_STYLE = 'report.css';

export interface PageInputs {
  /** `webview.cspSource`: the origin the webview serves local resources from. */
  cspSource: string;
  /** A fresh random value per page: only scripts carrying it run. */
  nonce: string;
  /** webview URIs of REPORT_SCRIPTS, same order. */
  scripts: string[];
  /** webview URI of REPORT_STYLE. */
  style: string;
}

/** No network, no inline script, no eval: scripts only with the page's nonce, styles and images only from the extension. */
export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src ${cspSource}`,
    `img-src ${cspSource} data:`,
    `font-src ${cspSource}`,
  ].join('; ');
}

const escapeAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

export function reportPage(p: PageInputs): string {
  if (!/^[A-Za-z0-9]{16,}$/.test(p.nonce)) {
    throw new Error('the nonce must be at least 16 letters or digits');
  }
  const scripts = p.scripts.map((s) => `<script nonce="${p.nonce}" src="${escapeAttr(s)}"></script>`).join('\n');
  // The stylesheet carries the id cytoscape gives the <style> it would otherwise inject (blocked by
  // this CSP): it finds it and injects nothing. report.css sets what that rule did (position: relative).
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeAttr(contentSecurityPolicy(p.cspSource, p.nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link id="__________cytoscape_stylesheet" rel="stylesheet" href="${escapeAttr(p.style)}">
<title>freshlens plan</title>
</head>
<body>
<div id="freshlens-report">Waiting for the freshlens language server…</div>
${scripts}
</body>
</html>
`;
}

/** A nonce from a source of random bytes (crypto.randomBytes in the extension). */
export function makeNonce(randomBytes: (n: number) => Uint8Array): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from(randomBytes(32), (b) => chars[b % chars.length]).join('');
}

export interface OpenRequest {
  type: 'open';
  project: string;
  file: string;
}

export type PageMessage = { type: 'ready' } | OpenRequest;

/** A message from the page, checked: the page's data is the server's, but a message is still input. */
export function pageMessage(m: unknown): PageMessage | undefined {
  if (!m || typeof m !== 'object') {
    return undefined;
  }
  const r = m as Record<string, unknown>;
  if (r.type === 'ready') {
    return { type: 'ready' };
  }
  if (r.type === 'open' && typeof r.project === 'string' && typeof r.file === 'string' && r.file !== '') {
    return { type: 'open', project: r.project, file: r.file };
  }
  return undefined;
}

/**
 * The file a click asks for: the project's folder (from the report the server sent) joined with the
 * row's relative path. Undefined when the project is unknown or the path would leave its folder.
 */
export function fileToOpen(report: unknown, req: OpenRequest, sep = '/'): string | undefined {
  const projects = report && typeof report === 'object' ? (report as Record<string, unknown>).projects : undefined;
  if (!Array.isArray(projects)) {
    return undefined;
  }
  const proj = projects.find((p) => p && typeof p === 'object' && (p as Record<string, unknown>).project === req.project) as
    | Record<string, unknown>
    | undefined;
  const root = proj?.root;
  if (typeof root !== 'string' || root === '') {
    return undefined;
  }
  const parts = req.file.split(/[\\/]/);
  if (req.file.startsWith('/') || /^[A-Za-z]:/.test(req.file) || parts.includes('..')) {
    return undefined;
  }
  return root.replace(/[\\/]+$/, '') + sep + parts.join(sep);
}
