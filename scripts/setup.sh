#!/usr/bin/env bash
# Create or reuse .venv in the repo and install PlanQA into it; re-installs only when pyproject changes.
# Usage: scripts/setup.sh [EXTRAS]   e.g. scripts/setup.sh st,test
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"

pick_python() {
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "PlanQA needs Python 3.11 or newer; none was found on PATH." >&2
  return 1
}

if [ ! -x .venv/bin/python ]; then
  py=$(pick_python)
  echo "==> creating .venv with $py" >&2
  "$py" -m venv .venv
fi

stamp=".venv/.planqa-installed"
want="$( (cat pyproject.toml; echo "extras=$extras") | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "==> installing PlanQA${extras:+ [$extras]} into .venv (first time takes a few minutes)" >&2
  .venv/bin/python -m pip install --quiet --upgrade pip >&2
  spec="."
  [ -n "$extras" ] && spec=".[$extras]"
  .venv/bin/python -m pip install --quiet -e "$spec" >&2
  echo "$want" > "$stamp"
fi
