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

# llama.cpp compiled for this CPU (-march=native) uses Intel AMX where the CPU has it, and then
# crashes (SIGSEGV on the first prompt) where the kernel or VM does not hand AMX state to the
# process (seen on a Firecracker VM with a Sapphire Rapids CPU). So the local extra's llama.cpp is
# built without AMX, once, into PlanQA's own wheel folder: pip's wheel cache may hold a native
# build made before, which it would reuse whatever the flags.
llama_flavor="no-amx-v1"
install_llama_cpp() {
  local version wheels wheel flags=""
  version=$(grep -o 'llama-cpp-python\[server\]==[0-9.]*' pyproject.toml | cut -d= -f3)
  wheels="${PLANQA_WHEEL_DIR:-$HOME/.cache/planqa/wheels}/$llama_flavor"
  wheel=$(ls "$wheels"/llama_cpp_python-"$version"-*.whl 2>/dev/null | head -n 1 || true)
  if [ -z "$wheel" ]; then
    echo "==> building llama-cpp-python $version without AMX (about 11 minutes on 2 cores, once)" >&2
    case "$(uname -m)" in x86_64|amd64) flags="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16" ;; esac
    mkdir -p "$wheels"
    CFLAGS="${CFLAGS:-} $flags" CXXFLAGS="${CXXFLAGS:-} $flags" \
      .venv/bin/python -m pip wheel --quiet --no-deps --no-cache-dir -w "$wheels" \
      "llama-cpp-python==$version" >&2
    wheel=$(ls "$wheels"/llama_cpp_python-"$version"-*.whl | head -n 1)
  fi
  .venv/bin/python -m pip install --quiet --force-reinstall --no-deps "$wheel" >&2
}

stamp=".venv/.planqa-installed"
want="$( (cat pyproject.toml; echo "extras=$extras llama=$llama_flavor") | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "==> installing PlanQA${extras:+ [$extras]} into .venv (first time takes a few minutes)" >&2
  .venv/bin/python -m pip install --quiet --upgrade pip >&2
  case ",$extras," in *,local,*) install_llama_cpp ;; esac
  spec="."
  [ -n "$extras" ] && spec=".[$extras]"
  .venv/bin/python -m pip install --quiet -e "$spec" >&2
  echo "$want" > "$stamp"
fi
