#!/usr/bin/env bash
# Install what the real-editor tests need (scripts/test-editors.sh): Debian's Neovim and Chromium
# (and Debian's Node.js + npm when there is no `node`), the extension's npm dependencies, and
# code-server + playwright-core in client-vscode/.e2e/ (gitignored). Everything comes from Debian's
# and npm's registries: native npm modules are compiled here, never downloaded as prebuilt binaries.
# Idempotent and cached: a second run only checks and returns in about a second.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
E2E="$ROOT/client-vscode/.e2e"
CODE_SERVER_VERSION=4.100.3      # the last code-server that runs on node 20
PLAYWRIGHT_VERSION=1.65.1
say() { echo "[setup-editors] $*"; }

# 1. Debian packages, only when one is missing. A `node` installed another way is used as it is.
pkgs=(neovim chromium chromium-driver libkrb5-dev ripgrep)
if ! command -v node >/dev/null; then pkgs+=(nodejs npm)
elif ! command -v npm >/dev/null; then pkgs+=(npm); fi
missing=()
for pkg in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  say "Node.js $(node --version) is too old: @vscode/vsce and code-server $CODE_SERVER_VERSION need Node.js 20"
  say "(Debian 13 ships it, Debian 12 ships 18): install Node.js 20 and run this again"
  exit 1
fi

# Native modules: argon2 (node-pre-gyp), kerberos and keytar (prebuild-install) first try to download
# a prebuilt binary from GitHub and compile only when that fails. build_from_source skips the
# download in both tools; nodedir makes node-gyp use the installed Node.js headers instead of
# downloading them.
npm_native=(env npm_config_build_from_source=true npm_config_nodedir=/usr)

# 2. The extension's own dependencies, exactly as locked.
stamp="client-vscode/node_modules/.freshlens-lock"
if [ ! -f "$stamp" ] || ! cmp -s client-vscode/package-lock.json "$stamp"; then
  say "npm ci in client-vscode"
  (cd client-vscode && "${npm_native[@]}" npm ci --no-audit --no-fund --loglevel=error)
  cp client-vscode/package-lock.json "$stamp"
fi

# 3. code-server (real VS Code workbench, installed from npm) and playwright-core (drives Chromium).
if [ ! -x "$E2E/node_modules/.bin/code-server" ] || [ ! -f "$E2E/node_modules/playwright-core/package.json" ] \
   || [ "$(cat "$E2E/.versions" 2>/dev/null)" != "$CODE_SERVER_VERSION $PLAYWRIGHT_VERSION" ]; then
  say "installing code-server@$CODE_SERVER_VERSION and playwright-core@$PLAYWRIGHT_VERSION (about 3 minutes)"
  mkdir -p "$E2E"
  [ -f "$E2E/package.json" ] || echo '{"name": "freshlens-e2e", "private": true}' > "$E2E/package.json"
  # @vscode/ripgrep's postinstall downloads rg from GitHub; seed its cache with Debian's rg instead.
  # @vscode/ripgrep 1.15.11 (what code-server 4.100.3 pins) looks for this exact cached asset.
  cache="${TMPDIR:-/tmp}/vscode-ripgrep-cache-1.15.11"
  mkdir -p "$cache"
  [ -f "$cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" ] \
    || tar czf "$cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C /usr/bin rg
  (cd "$E2E" && "${npm_native[@]}" npm_config_unsafe_perm=true npm_config_yes=true \
    npm install --no-audit --no-fund --loglevel=error --foreground-scripts \
      "code-server@$CODE_SERVER_VERSION" "playwright-core@$PLAYWRIGHT_VERSION" > "$E2E/install.log" 2>&1) \
    || { tail -40 "$E2E/install.log"; say "code-server install failed (log: $E2E/install.log)"; exit 1; }
  echo "$CODE_SERVER_VERSION $PLAYWRIGHT_VERSION" > "$E2E/.versions"
fi
say "ready: nvim $(nvim --version | head -1 | cut -d' ' -f2), $(chromium --version 2>/dev/null | cut -d' ' -f1-2), code-server $("$E2E/node_modules/.bin/code-server" --version 2>/dev/null | grep -m1 -oE "^[0-9]+\.[0-9]+\.[0-9]+")"
