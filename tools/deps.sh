#!/bin/sh
# Installs what loopspec needs from Debian's archive, the npm registry and
# PyPI (the loops of harness/requirements.lock, into harness/.venv).
# Idempotent: installs only what is missing; uses sudo only when not root.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)

pkgs="build-essential pkg-config check valgrind clang libclang-rt-14-dev gnuplot-nox hyperfine python3 python3-pytest python3-uvloop python3-venv python3-gi python3-gbulb pypy3"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# Node and npm: any installation will do (Debian's packages conflict with
# some others), so only a machine with neither gets Debian's.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -n "$missing" ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "deps: installing$missing"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
fi

# Node packages for the Node-based implementations, pinned by the lock file.
if [ -f "$here/harness/package-lock.json" ]; then
    if [ ! -d "$here/harness/node_modules" ] || [ "$here/harness/package-lock.json" -nt "$here/harness/node_modules/.package-lock.json" ]; then
        echo "deps: npm ci in harness/"
        (cd "$here/harness" && npm ci --no-audit --no-fund --loglevel=error)
    fi
fi

# The asyncio loops from PyPI (harness/requirements.lock, pinned with hashes)
# in a virtual environment of Debian's CPython 3.11.2 that sees its site
# packages (python3-gi, which gbulb and PyGObject need).  Redone only when
# the lock file changed since the last install.
venv="$here/harness/.venv"
lock="$here/harness/requirements.lock"
if [ -f "$lock" ] && { [ ! -x "$venv/bin/python3" ] || ! cmp -s "$lock" "$venv/requirements.lock.installed"; }; then
    echo "deps: the loops of harness/requirements.lock into harness/.venv"
    [ -x "$venv/bin/python3" ] || /usr/bin/python3 -m venv --system-site-packages "$venv"
    "$venv/bin/python3" -m pip install -q --disable-pip-version-check --require-hashes \
        --only-binary=:all: -r "$lock"
    cp "$lock" "$venv/requirements.lock.installed"
fi
