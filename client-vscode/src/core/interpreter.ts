// Which Python runs the server, and what to tell the user when it cannot import freshlens.
// Pure: no VS Code API, no I/O, so it is unit-tested with node's test runner.

export type PythonSource = 'setting' | 'python-extension' | 'default';

export interface PythonChoice {
  /** Executable path or command name. */
  readonly python: string;
  readonly source: PythonSource;
}

export interface PythonInputs {
  /** `freshlens.server.python`, as the user wrote it (may be empty). */
  readonly configured?: string;
  /** The Python extension's active environment executable, if that extension is installed. */
  readonly fromPythonExtension?: string;
  /** First workspace folder, to expand `${workspaceFolder}` in the setting. */
  readonly workspaceFolder?: string;
  /** Home directory, to expand a leading `~`. */
  readonly home?: string;
  /** `process.platform`: `python3` does not exist on a default Windows install. */
  readonly platform?: string;
}

/** Expand `${workspaceFolder}`, `${userHome}` and a leading `~` the way VS Code users expect. */
export function expandPath(value: string, workspaceFolder?: string, home?: string): string {
  let out = value.trim();
  if (workspaceFolder !== undefined) {
    out = out.split('${workspaceFolder}').join(workspaceFolder);
  }
  if (home !== undefined) {
    out = out.split('${userHome}').join(home);
    if (out === '~' || out.startsWith('~/')) {
      out = home + out.slice(1);
    }
  }
  return out;
}

/** Setting → Python extension's active environment → `python3` (`python` on Windows). */
export function choosePython(inputs: PythonInputs): PythonChoice {
  const configured = (inputs.configured ?? '').trim();
  if (configured !== '') {
    return { python: expandPath(configured, inputs.workspaceFolder, inputs.home), source: 'setting' };
  }
  const fromExt = (inputs.fromPythonExtension ?? '').trim();
  if (fromExt !== '') {
    return { python: fromExt, source: 'python-extension' };
  }
  return { python: inputs.platform === 'win32' ? 'python' : 'python3', source: 'default' };
}

/** The arguments that start the language server over stdio. */
export function serverArgs(): string[] {
  return ['-m', 'freshlens', 'serve'];
}

/** A probe that prints freshlens' version, or fails if it cannot be imported. */
export function probeArgs(): string[] {
  return ['-c', 'import freshlens, sys; sys.stdout.write(getattr(freshlens, "__version__", "unknown"))'];
}

/** Quote an argument for a POSIX or PowerShell terminal, only when it needs it. */
export function shellQuote(arg: string, platform?: string): string {
  if (/^[A-Za-z0-9_\-./:=@+]+$/.test(arg)) {
    return arg;
  }
  if (platform === 'win32') {
    return `& "${arg.replace(/"/g, '`"')}"`;
  }
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The command offered to the user when the interpreter cannot import freshlens. */
export function installCommand(python: string, platform?: string): string {
  return `${shellQuote(python, platform)} -m pip install freshlens`;
}

export function describeChoice(choice: PythonChoice): string {
  switch (choice.source) {
    case 'setting':
      return `${choice.python} (from the setting freshlens.server.python)`;
    case 'python-extension':
      return `${choice.python} (the Python extension's selected interpreter)`;
    default:
      return `${choice.python} (the default; set freshlens.server.python to choose another)`;
  }
}

/** Plain words for "this Python cannot run freshlens", with what to do next. */
export function missingFreshlensMessage(choice: PythonChoice, platform?: string): string {
  return (
    `freshlens: the Python at ${describeChoice(choice)} cannot import freshlens, so the language server ` +
    `cannot start. Install it into that interpreter with: ${installCommand(choice.python, platform)}`
  );
}

/** A message for a Python that could not be run at all (missing file, not executable). */
export function pythonNotFoundMessage(choice: PythonChoice): string {
  return (
    `freshlens: could not run Python at ${describeChoice(choice)}. ` +
    'Set freshlens.server.python to a Python 3.11+ interpreter that has freshlens installed.'
  );
}
