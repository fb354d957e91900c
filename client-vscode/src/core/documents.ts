// Which documents belong to the server: SQL, YAML and Python files inside a folder that holds a
// dbt_project.yml, minus dbt's generated folders. Pure.

/** Folders below a dbt project whose files are outputs or vendored code, never the user's source. */
export const GENERATED_DIRS: readonly string[] = ['target', 'dbt_packages', 'dbt_modules', 'logs', '.venv', 'node_modules', '.freshlens'];

export const EXTENSIONS: readonly string[] = ['sql', 'yml', 'yaml', 'py'];

function toPosix(p: string): string {
  return p.replace(/\\/g, '/').replace(/\/+$/, '');
}

/** Escape glob metacharacters in a literal path so a folder named `a[1]` still matches itself. */
export function escapeGlob(literal: string): string {
  return literal.replace(/[[\]{}()*?!]/g, (c) => `[${c}]`);
}

/** The folder of each `dbt_project.yml` path. */
export function projectRoots(dbtProjectFiles: readonly string[]): string[] {
  const roots = new Set<string>();
  for (const f of dbtProjectFiles) {
    const p = toPosix(f);
    const i = p.lastIndexOf('/');
    roots.add(i <= 0 ? '/' : p.slice(0, i));
  }
  return [...roots].sort();
}

/** One file-scheme filter per project root, for the language client's `documentSelector`. */
export function documentSelector(roots: readonly string[]): { scheme: string; pattern: string }[] {
  return roots.map((r) => ({ scheme: 'file', pattern: `${escapeGlob(toPosix(r))}/**/*.{${EXTENSIONS.join(',')}}` }));
}

/** The project root that contains `filePath`, the innermost one when projects nest. */
export function owningRoot(filePath: string, roots: readonly string[]): string | undefined {
  const p = toPosix(filePath);
  let best: string | undefined;
  for (const r of roots) {
    const root = toPosix(r);
    if (p.startsWith(root + '/') && (best === undefined || root.length > best.length)) {
      best = root;
    }
  }
  return best;
}

/** True when the server should see this file (the middleware's filter on top of the selector). */
export function isProjectFile(filePath: string, roots: readonly string[]): boolean {
  const root = owningRoot(filePath, roots);
  if (root === undefined) {
    return false;
  }
  const rel = toPosix(filePath).slice(root.length + 1);
  const ext = rel.slice(rel.lastIndexOf('.') + 1).toLowerCase();
  if (!EXTENSIONS.includes(ext)) {
    return false;
  }
  const first = rel.split('/')[0];
  return !GENERATED_DIRS.includes(first);
}
