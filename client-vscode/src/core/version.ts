// Compare the extension's version with the server's `serverInfo.version`. Pure.

/** `1.2.3`, `1.2.3.dev4+gabc`, `v1.2.3-beta.1` → [1, 2, 3]; undefined if it has no numbers. */
export function releaseParts(version: string): [number, number, number] | undefined {
  const m = /^\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(version);
  if (!m) {
    return undefined;
  }
  return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
}

/**
 * A warning when the server and extension releases differ, undefined when they agree.
 * Pre-release and local suffixes (`.dev3`, `+g1234`) are ignored: a development install of the
 * matching release is what contributors run.
 */
export function versionMismatch(extensionVersion: string, serverVersion: string | undefined): string | undefined {
  if (serverVersion === undefined || serverVersion.trim() === '') {
    return (
      `freshlens: the language server did not report its version (the extension is ${extensionVersion}). ` +
      'Upgrade the freshlens Python package so both match.'
    );
  }
  const ext = releaseParts(extensionVersion);
  const srv = releaseParts(serverVersion);
  if (ext && srv && ext.every((n, i) => n === srv[i])) {
    return undefined;
  }
  const upgrade =
    ext && srv && compare(srv, ext) < 0
      ? `Upgrade the server: pip install "freshlens==${extensionVersion}"`
      : 'Update the freshlens extension, or install the matching server release';
  return (
    `freshlens: the language server is version ${serverVersion} but the extension is ${extensionVersion}; ` +
    `some features may not work. ${upgrade}.`
  );
}

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) {
      return d;
    }
  }
  return 0;
}
