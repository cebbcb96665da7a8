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

# llama.cpp is compiled for this CPU (-march=native), Intel AMX included where the CPU has it:
# AMX reads a prompt about 1.7 times as fast here (Sapphire Rapids, 2 cores). The source is
# patched first (scripts/patch_llama_cpp.sh: unpatched, its AMX code crashes when built by GCC 12)
# and built once into PlanQA's own wheel folder: pip's wheel cache may hold an unpatched native
# build, which it would reuse whatever the source.
llama_flavor="amx-ldtilecfg-v1"
install_llama_cpp() {
  local version wheels wheel src
  version=$(grep -o 'llama-cpp-python\[server\]==[0-9.]*' pyproject.toml | cut -d= -f3)
  wheels="${PLANQA_WHEEL_DIR:-$HOME/.cache/planqa/wheels}/$llama_flavor"
  wheel=$(ls "$wheels"/llama_cpp_python-"$version"-*.whl 2>/dev/null | head -n 1 || true)
  if [ -z "$wheel" ]; then
    echo "==> building llama-cpp-python $version for this CPU (about 11 minutes on 2 cores, once)" >&2
    src=$(mktemp -d)
    (  # in a subshell, so that the source folder goes whether the build succeeds or not
      trap 'rm -rf "$src" "$wheels.partial"' EXIT
      .venv/bin/python -m pip download --quiet --no-deps --no-binary :all: -d "$src" \
        "llama-cpp-python==$version" >&2
      tar -xzf "$src"/llama_cpp_python-"$version".tar.gz -C "$src"
      bash scripts/patch_llama_cpp.sh "$src/llama_cpp_python-$version"
      .venv/bin/python -m pip wheel --quiet --no-deps --no-cache-dir -w "$wheels.partial" \
        "$src/llama_cpp_python-$version" >&2
      mkdir -p "$wheels"
      mv "$wheels.partial"/llama_cpp_python-"$version"-*.whl "$wheels"/
    )
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
