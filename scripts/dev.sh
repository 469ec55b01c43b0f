#!/usr/bin/env bash
# Sets up everything the project needs on a fresh Debian machine with Python 3.11, then runs
# one Taskfile task:   bash scripts/dev.sh demo   |   bash scripts/dev.sh check (lint + tests)
# Idempotent: a second run only checks that everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

export UV_PYTHON_DOWNLOADS=never   # use the machine's Python 3.11, never download one
export PATH="$HOME/.local/bin:$PATH"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=""
apt_install() {
  [ -n "$apt_updated" ] || { as_root apt-get update -qq; apt_updated=1; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# uv: the workspace's package manager.
if ! command -v uv >/dev/null 2>&1; then
  if ! python3 -m pip --version >/dev/null 2>&1; then apt_install python3-pip; fi
  python3 -m pip install --quiet --user --break-system-packages uv 2>/dev/null \
    || python3 -m pip install --quiet --user uv
fi

# Chromium from Debian: Playwright cannot download its own browser on these machines.
if [ ! -x /usr/bin/chromium ]; then apt_install chromium; fi

# Every Python dependency, exactly as locked (go-task comes with the dev group as `task`).
uv sync --frozen --quiet

exec .venv/bin/task "${@:-test}"
