// Bundle the extension (one file, vscode external) or compile the unit tests for `node --test`.
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';

const args = new Set(process.argv.slice(2));
const production = args.has('--production');

if (args.has('--tests')) {
  // Tests import only the pure modules in src/core, so they run without VS Code.
  const entryPoints = readdirSync('test').filter((f) => f.endsWith('.test.ts')).map((f) => `test/${f}`);
  await esbuild.build({
    entryPoints,
    outdir: 'out-test',
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
    logLevel: 'warning',
  });
} else {
  copyReportAssets();
  const options = {
    entryPoints: ['src/extension.ts'],
    outfile: 'dist/extension.js',
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node18',
    external: ['vscode'],
    minify: production,
    sourcemap: !production,
    logLevel: 'warning',
  };
  if (args.has('--watch')) {
    const ctx = await esbuild.context(options);
    await ctx.watch();
  } else {
    await esbuild.build(options);
  }
}

// The plan webview loads the same files `freshlens plan --format html` inlines: the report UI from
// the Python package and the graph libraries vendored there by scripts/build-report-assets.sh.
function copyReportAssets() {
  const from = '../server/freshlens/report/assets';
  const to = 'media/report';
  mkdirSync(to, { recursive: true });
  for (const f of ['report.js', 'report.css']) {
    copyFileSync(`${from}/${f}`, `${to}/${f}`);
  }
  for (const f of readdirSync(`${from}/vendor`)) {
    copyFileSync(`${from}/vendor/${f}`, `${to}/${f}`);
  }
}
