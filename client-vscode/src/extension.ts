// The only module that talks to the VS Code API: it wires the pure modules in ./core to the
// editor, starts the freshlens language server and shows what it reports.
import { execFile } from 'child_process';
import { randomBytes } from 'crypto';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import {
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  Middleware,
  RevealOutputChannelOn,
  ServerOptions,
  State,
} from 'vscode-languageclient/node';
import { documentSelector, isProjectFile, projectRoots } from './core/documents';
import {
  PythonChoice,
  choosePython,
  installCommand,
  missingFreshlensMessage,
  probeArgs,
  pythonNotFoundMessage,
  serverArgs,
} from './core/interpreter';
import { Status, StatusView, explainMarkdown, planRows, statusView, stoppedView } from './core/present';
import { didChangeConfigurationParams, reactionTo, toServerSettings } from './core/settings';
import { versionMismatch } from './core/version';
import { REPORT_SCRIPTS, REPORT_STYLE, fileToOpen, makeNonce, pageMessage, reportPage } from './core/webview';

const SCHEME = 'freshlens';
const PROJECT_GLOB = '**/dbt_project.yml';
const PROJECT_EXCLUDE = '**/{node_modules,dbt_packages,dbt_modules,target,.venv}/**';

let ctx: vscode.ExtensionContext;
let output: vscode.OutputChannel;
let statusItem: vscode.StatusBarItem;
let client: LanguageClient | undefined;
let roots: string[] = [];
let lifecycle: Promise<void> = Promise.resolve();
let planPanel: vscode.WebviewPanel | undefined;
let planReport: unknown;
let planRefresh: Promise<void> | undefined;
let planStale = false;
const virtualDocs = new Map<string, string>();
const virtualDocsChanged = new vscode.EventEmitter<vscode.Uri>();

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  ctx = context;
  output = vscode.window.createOutputChannel('freshlens');
  statusItem = vscode.window.createStatusBarItem('freshlens.status', vscode.StatusBarAlignment.Left, 10);
  statusItem.name = 'freshlens';
  statusItem.command = 'freshlens.showPlan';
  showStatus(statusView(undefined));
  statusItem.show();

  const cmd = (id: string, fn: (...args: unknown[]) => unknown) => vscode.commands.registerCommand(id, fn);
  context.subscriptions.push(
    output,
    statusItem,
    virtualDocsChanged,
    vscode.workspace.registerTextDocumentContentProvider(SCHEME, {
      onDidChange: virtualDocsChanged.event,
      provideTextDocumentContent: (uri) => virtualDocs.get(uri.toString()) ?? '',
    }),
    cmd('freshlens.restartServer', () => restart()),
    cmd('freshlens.showOutput', () => output.show(true)),
    cmd('freshlens.explainModel', (arg) => explainModel(arg)),
    cmd('freshlens.showPlan', () => showPlan()),
    cmd('freshlens.refreshState', () => refreshState()),
    cmd('freshlens.clearStateCache', () => clearState()),
    cmd('freshlens.refreshSourceFreshness', () => refreshSourceFreshness()),
    vscode.workspace.onDidChangeConfiguration((e) => onConfigurationChanged(e)),
    vscode.workspace.onDidChangeWorkspaceFolders(() => restart()),
  );
  const watcher = vscode.workspace.createFileSystemWatcher(PROJECT_GLOB, false, true, false);
  context.subscriptions.push(watcher, watcher.onDidCreate(() => restart()), watcher.onDidDelete(() => restart()));
  await watchPythonExtension();
  await restart();
}

export async function deactivate(): Promise<void> {
  await stopClient();
}

// ---- lifecycle -------------------------------------------------------------------------------

/** Serialised so overlapping triggers (settings, new dbt_project.yml, the command) never race. */
function restart(): Promise<void> {
  lifecycle = lifecycle
    .catch(() => undefined) // a failed start must not block the next one
    .then(async () => {
      await stopClient();
      await startClient();
    })
    .catch((e) => {
      log(`restart failed: ${String(e)}`);
      showStatus(stoppedView(`the language server failed to start: ${String(e)}`));
    });
  return lifecycle;
}

async function stopClient(): Promise<void> {
  const c = client;
  client = undefined;
  if (c) {
    try {
      await c.stop(5000);
    } catch (e) {
      log(`stopping the server: ${String(e)}`);
    }
  }
}

async function startClient(): Promise<void> {
  const found = await vscode.workspace.findFiles(PROJECT_GLOB, PROJECT_EXCLUDE);
  roots = projectRoots(found.map((u) => u.fsPath));
  if (roots.length === 0) {
    showStatus(stoppedView('no dbt_project.yml in this workspace'));
    return;
  }
  log(`dbt projects: ${roots.join(', ')}`);
  const choice = await pickPython();
  log(`Python: ${choice.python} (${choice.source})`);
  if (!(await probe(choice))) {
    return;
  }
  const serverOptions: ServerOptions = {
    command: choice.python,
    // No `transport`: with TransportKind.stdio the client appends `--stdio` to the arguments.
    args: serverArgs(),
    options: { cwd: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? roots[0] },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: documentSelector(roots),
    outputChannel: output,
    revealOutputChannelOn: RevealOutputChannelOn.Never,
    initializationOptions: currentSettings(),
    middleware: middleware(),
  };
  const c = new LanguageClient('freshlens', 'freshlens', serverOptions, clientOptions);
  c.onNotification('freshlens/status', (s: Status) => {
    showStatus(statusView(s));
    void refreshPlanPanel(); // sent after every re-plan: the open plan follows the lens
  });
  c.onDidChangeState((e) => {
    if (e.newState === State.Stopped && client === c) {
      showStatus(stoppedView('the language server stopped; see the freshlens output'));
    }
  });
  client = c;
  try {
    await c.start();
  } catch (e) {
    showStatus(stoppedView(`the language server failed to start: ${String(e)}`));
    log(`start failed: ${String(e)}`);
    void vscode.window.showErrorMessage(`freshlens: the language server failed to start. ${String(e)}`, 'Show output').then(
      (a) => a && output.show(true),
    );
    return;
  }
  checkVersion(c);
  await ensureExplainCommand();
}

function currentSettings(scope?: vscode.Uri) {
  const cfg = vscode.workspace.getConfiguration('freshlens', scope);
  return toServerSettings((key) => cfg.get(key));
}

function onConfigurationChanged(e: vscode.ConfigurationChangeEvent): void {
  const reaction = reactionTo((s) => e.affectsConfiguration(s));
  if (reaction === 'restart') {
    void restart();
  } else if (reaction === 'push' && client?.isRunning()) {
    void client.sendNotification(DidChangeConfigurationNotification.type, didChangeConfigurationParams(currentSettings()));
  }
}

function middleware(): Middleware {
  const ours = (uri: vscode.Uri) => uri.scheme === 'file' && isProjectFile(uri.fsPath, roots);
  return {
    didOpen: (doc, next) => (ours(doc.uri) ? next(doc) : Promise.resolve()),
    didChange: (e, next) => (ours(e.document.uri) ? next(e) : Promise.resolve()),
    didSave: (doc, next) => (ours(doc.uri) ? next(doc) : Promise.resolve()),
    didClose: (doc, next) => (ours(doc.uri) ? next(doc) : Promise.resolve()),
    provideHover: (doc, pos, token, next) => (ours(doc.uri) ? next(doc, pos, token) : undefined),
    provideCodeLenses: (doc, token, next) => (ours(doc.uri) ? next(doc, token) : []),
    provideCodeActions: (doc, range, context, token, next) => (ours(doc.uri) ? next(doc, range, context, token) : []),
    // Lens clicks run the server command `freshlens.explain`; show what it returns.
    executeCommand: async (command, args, next) => {
      const result = await next(command, args);
      if (command === 'freshlens.explain') {
        await showExplanation(result, args[0]);
      }
      return result;
    },
    workspace: {
      // The server asks for section `freshlens`: answer with its keys, not VS Code's nested ones.
      configuration: async (params, token, next) => {
        const answer = await next(params, token);
        if (!Array.isArray(answer)) {
          return answer;
        }
        return params.items.map((item, i) =>
          item.section === 'freshlens'
            ? currentSettings(item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined)
            : answer[i],
        );
      },
    },
  };
}

// ---- interpreter -----------------------------------------------------------------------------

interface PythonExtensionApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { path: string } | undefined;
    resolveEnvironment(env: { path: string }): Promise<{ executable?: { uri?: vscode.Uri } } | undefined>;
    onDidChangeActiveEnvironmentPath?: vscode.Event<unknown>;
  };
}

async function pythonApi(): Promise<PythonExtensionApi | undefined> {
  const ext = vscode.extensions.getExtension<PythonExtensionApi>('ms-python.python');
  if (!ext) {
    return undefined;
  }
  try {
    return ext.isActive ? ext.exports : await ext.activate();
  } catch (e) {
    log(`the Python extension did not activate: ${String(e)}`);
    return undefined;
  }
}

async function watchPythonExtension(): Promise<void> {
  const api = await pythonApi();
  const event = api?.environments?.onDidChangeActiveEnvironmentPath;
  if (event) {
    ctx.subscriptions.push(
      event(() => {
        if (!vscode.workspace.getConfiguration('freshlens').get<string>('server.python')) {
          void restart();
        }
      }),
    );
  }
}

async function pythonFromExtension(): Promise<string | undefined> {
  const envs = (await pythonApi())?.environments;
  if (!envs) {
    return undefined;
  }
  try {
    const resource = vscode.workspace.workspaceFolders?.[0]?.uri;
    const active = envs.getActiveEnvironmentPath(resource);
    if (!active) {
      return undefined;
    }
    const resolved = await envs.resolveEnvironment(active);
    return resolved?.executable?.uri?.fsPath ?? active.path;
  } catch (e) {
    log(`asking the Python extension for its interpreter: ${String(e)}`);
    return undefined;
  }
}

async function pickPython(): Promise<PythonChoice> {
  return choosePython({
    configured: vscode.workspace.getConfiguration('freshlens').get<string>('server.python'),
    fromPythonExtension: await pythonFromExtension(),
    workspaceFolder: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
    home: os.homedir(),
    platform: process.platform,
  });
}

/** Can this Python import freshlens? If not, say so in plain words and offer the fix. */
function probe(choice: PythonChoice): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(choice.python, probeArgs(), { timeout: 30000 }, (err, stdout, stderr) => {
      if (!err) {
        log(`freshlens ${stdout.trim()} found`);
        resolve(true);
        return;
      }
      const notFound = (err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'EACCES';
      log(`probe failed: ${String(err)} ${stderr}`);
      if (notFound) {
        showStatus(stoppedView(`no Python at ${choice.python}`));
        void vscode.window.showErrorMessage(pythonNotFoundMessage(choice), 'Open setting').then((a) => {
          if (a) {
            void vscode.commands.executeCommand('workbench.action.openSettings', 'freshlens.server.python');
          }
        });
      } else {
        showStatus(stoppedView(`freshlens is not installed for ${choice.python}`));
        void offerInstall(choice);
      }
      resolve(false);
    });
  });
}

async function offerInstall(choice: PythonChoice): Promise<void> {
  const install = 'Install in terminal';
  const pick = await vscode.window.showErrorMessage(missingFreshlensMessage(choice, process.platform), install, 'Choose interpreter', 'Show output');
  if (pick === install) {
    const term = vscode.window.createTerminal('freshlens install');
    term.show();
    term.sendText(installCommand(choice.python, process.platform));
    const again = await vscode.window.showInformationMessage('freshlens: when the install has finished, restart the server.', 'Restart server');
    if (again) {
      await restart();
    }
  } else if (pick === 'Choose interpreter') {
    await vscode.commands.executeCommand('workbench.action.openSettings', 'freshlens.server.python');
  } else if (pick === 'Show output') {
    output.show(true);
  }
}

function checkVersion(c: LanguageClient): void {
  const mine = String(ctx.extension.packageJSON.version ?? '');
  const theirs = c.initializeResult?.serverInfo?.version;
  log(`server ${c.initializeResult?.serverInfo?.name ?? '?'} ${theirs ?? '?'}; extension ${mine}`);
  const warning = versionMismatch(mine, theirs);
  if (warning) {
    void vscode.window.showWarningMessage(warning);
  }
}

/** If the server does not advertise `freshlens.explain`, lens clicks still need a command. */
async function ensureExplainCommand(): Promise<void> {
  const known = await vscode.commands.getCommands(true);
  if (!known.includes('freshlens.explain')) {
    ctx.subscriptions.push(vscode.commands.registerCommand('freshlens.explain', (arg) => explainModel(arg)));
  }
}

// ---- commands --------------------------------------------------------------------------------

async function serverCommand(command: string, args: unknown[] = []): Promise<unknown> {
  if (!client?.isRunning()) {
    const pick = await vscode.window.showErrorMessage('freshlens: the language server is not running.', 'Restart server', 'Show output');
    if (pick === 'Restart server') {
      await restart();
    } else if (pick) {
      output.show(true);
    }
    return undefined;
  }
  return client.sendRequest(ExecuteCommandRequest.type, { command, arguments: args });
}

async function explainModel(arg?: unknown): Promise<void> {
  let target: string | undefined = typeof arg === 'string' ? arg : arg instanceof vscode.Uri ? arg.toString() : undefined;
  const active = vscode.window.activeTextEditor?.document.uri;
  if (!target && active && isProjectFile(active.fsPath, roots)) {
    target = active.toString();
  }
  if (!target) {
    const rows = planRows(await serverCommand('freshlens.plan'));
    const items = rows
      .map((r) => String(r.unique_id ?? r.id ?? r.name ?? ''))
      .filter((s) => s !== '')
      .map((label) => ({ label }));
    const picked = await vscode.window.showQuickPick(items, { placeHolder: 'Which model should freshlens explain?' });
    target = picked?.label;
  }
  if (!target) {
    return;
  }
  const result = await serverCommand('freshlens.explain', [target]);
  if (result !== undefined) {
    await showExplanation(result, target);
  }
}

async function showExplanation(result: unknown, target: unknown): Promise<void> {
  const name = String(target ?? 'model').replace(/^.*[/\\]/, '').replace(/[^\w.-]+/g, '_');
  const uri = putVirtual(`/explain/${name}.md`, explainMarkdown(result));
  try {
    await vscode.commands.executeCommand('markdown.showPreviewToSide', uri);
  } catch {
    await vscode.window.showTextDocument(uri, { preview: true, viewColumn: vscode.ViewColumn.Beside });
  }
}

/** The plan as a webview: the models as a table and the project's lineage graph (server command `freshlens.planReport`). */
async function showPlan(): Promise<void> {
  if (planPanel) {
    planPanel.reveal();
    await refreshPlanPanel();
    return;
  }
  const media = vscode.Uri.joinPath(ctx.extensionUri, 'media', 'report');
  const panel = vscode.window.createWebviewPanel('freshlens.plan', 'freshlens plan', vscode.ViewColumn.Active, {
    enableScripts: true,
    localResourceRoots: [media],
  });
  planPanel = panel;
  const uri = (f: string) => panel.webview.asWebviewUri(vscode.Uri.joinPath(media, f)).toString();
  panel.webview.html = reportPage({
    cspSource: panel.webview.cspSource,
    nonce: makeNonce((n) => Uint8Array.from(randomBytes(n))),
    scripts: REPORT_SCRIPTS.map(uri),
    style: uri(REPORT_STYLE),
  });
  panel.onDidDispose(() => {
    planPanel = undefined;
    planReport = undefined;
  });
  panel.webview.onDidReceiveMessage(async (raw) => {
    const m = pageMessage(raw);
    if (m?.type === 'ready') {
      // (re)loaded, e.g. after the panel was hidden: send what we have, then the newest
      if (planReport !== undefined) {
        void panel.webview.postMessage({ type: 'report', report: planReport });
      }
      await refreshPlanPanel();
    } else if (m?.type === 'open') {
      const file = fileToOpen(planReport, m, path.sep);
      if (file) {
        await vscode.window.showTextDocument(vscode.Uri.file(file), { viewColumn: vscode.ViewColumn.Beside, preview: false });
      } else {
        log(`plan: cannot open ${m.file} of project ${m.project}`);
      }
    }
  });
}

/** Ask the server for the report and send it to the open panel; re-plans during a request coalesce. */
function refreshPlanPanel(): Promise<void> {
  if (!planPanel || !client?.isRunning()) {
    return Promise.resolve();
  }
  if (planRefresh) {
    planStale = true;
    return planRefresh;
  }
  const c = client;
  planRefresh = (async () => {
    do {
      planStale = false;
      try {
        const report = await c.sendRequest(ExecuteCommandRequest.type, { command: 'freshlens.planReport', arguments: [] });
        if (planPanel && report) {
          planReport = report;
          await planPanel.webview.postMessage({ type: 'report', report });
        }
      } catch (e) {
        log(`plan report: ${String(e)}`);
      }
    } while (planStale && planPanel);
  })().finally(() => {
    planRefresh = undefined;
  });
  return planRefresh;
}

async function refreshState(): Promise<void> {
  await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: 'freshlens: refreshing state and freshness' },
    () => serverCommand('freshlens.refresh'),
  );
}

async function refreshSourceFreshness(): Promise<void> {
  // The server runs the user's dbt with its own progress (cancellable) and re-plans; the project of
  // the active file, or every project when no file is active.
  const active = vscode.window.activeTextEditor?.document.uri;
  const args = active && active.scheme === 'file' ? [active.toString()] : [];
  const got = (await serverCommand('freshlens.refreshFreshness', args)) as
    | { projects?: { error?: string; cancelled?: boolean; written?: string[] }[] }
    | undefined;
  const done = (got?.projects ?? []).filter((p) => !p.error && !p.cancelled);
  if (done.length > 0) {
    void vscode.window.setStatusBarMessage('freshlens: source freshness refreshed', 5000);
  }
}

async function clearState(): Promise<void> {
  const clear = 'Clear state';
  const pick = await vscode.window.showWarningMessage(
    'freshlens: clear the state cache? freshlens will forget what was built when, so every model will show Build until state is ingested again.',
    { modal: true },
    clear,
  );
  if (pick === clear) {
    await serverCommand('freshlens.clearState');
    void vscode.window.setStatusBarMessage('freshlens: state cleared', 5000);
  }
}

// ---- small helpers ---------------------------------------------------------------------------

function putVirtual(docPath: string, text: string): vscode.Uri {
  const uri = vscode.Uri.from({ scheme: SCHEME, path: docPath });
  virtualDocs.set(uri.toString(), text);
  virtualDocsChanged.fire(uri);
  return uri;
}

function showStatus(view: StatusView): void {
  statusItem.text = view.text;
  statusItem.tooltip = view.tooltip;
  statusItem.command = view.kind === 'error' && view.text.includes('stopped') ? 'freshlens.showOutput' : 'freshlens.showPlan';
  statusItem.backgroundColor = view.kind === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
}

function log(message: string): void {
  output.appendLine(`[client] ${message}`);
}
