#!/usr/bin/env bash
# Patch an unpacked llama-cpp-python source tree before it is built (called by scripts/setup.sh).
# Usage: scripts/patch_llama_cpp.sh SRC_DIR
#
# llama.cpp's AMX code (ggml-cpu/amx/mmq.cpp) loads its tile configuration with
# _tile_loadconfig(&tc). GCC 12 declares that intrinsic as reading 8 bytes of the 64-byte
# configuration, so at -O3 the stores that fill in the rest are dropped and ldtilecfg faults on
# whatever was on the stack: SIGSEGV on the first prompt of more than one token, on any CPU with
# Intel AMX. The patch replaces the call with an ldtilecfg whose operand is the whole
# configuration. A tree without AMX code is left alone; an AMX file without the expected call
# (another llama.cpp version) stops the build with a message instead of building a crashing one.
set -euo pipefail
src="${1:?usage: scripts/patch_llama_cpp.sh SRC_DIR}"
mmq="$src/vendor/llama.cpp/ggml/src/ggml-cpu/amx/mmq.cpp"
marker="PlanQA: ldtilecfg reads all 64 bytes"
[ -f "$mmq" ] || exit 0
grep -q "$marker" "$mmq" && exit 0
if ! grep -q '^    _tile_loadconfig(&tc);$' "$mmq"; then
  echo "patch_llama_cpp: the AMX tile set-up in $mmq is not the one this patch expects;" \
    "update scripts/patch_llama_cpp.sh for this llama-cpp-python version." >&2
  exit 1
fi
sed -i "s|^    _tile_loadconfig(&tc);\$|    __asm__ volatile(\"ldtilecfg %0\" :: \"m\"(tc)); /* $marker */|" "$mmq"
grep -q "$marker" "$mmq"
