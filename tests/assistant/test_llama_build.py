"""scripts/patch_llama_cpp.sh: the patch that lets llama.cpp's AMX code run when GCC builds it.

The last test compiles the call the patch replaces and its replacement, each in a small program
that configures AMX tiles and multiplies one pair, and runs both on this CPU.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "patch_llama_cpp.sh"
MMQ = "vendor/llama.cpp/ggml/src/ggml-cpu/amx/mmq.cpp"
CALL = "    _tile_loadconfig(&tc);"

# The shape of llama.cpp's ggml_tile_config_init, in a program that then uses the tiles.
PROGRAM = """#include <immintrin.h>
#include <cstdint>
#include <cstdio>
#include <unistd.h>
#include <sys/syscall.h>
struct tile_config_t {
    uint8_t palette_id; uint8_t start_row; uint8_t reserved_0[14];
    uint16_t colsb[16]; uint8_t rows[16];
};
__attribute__((noinline)) void dirty_stack() {
    volatile uint8_t junk[512];
    for (int i = 0; i < 512; ++i) junk[i] = 0xff;
}
__attribute__((noinline)) void ggml_tile_config_init() {
    alignas(64) tile_config_t tc = {};
    tc.palette_id = 1;
    for (int i = 0; i < 3; ++i) { tc.rows[i] = 16; tc.colsb[i] = 64; }
%s
}
int main() {
    if (syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */)) return 2;
    dirty_stack();
    ggml_tile_config_init();
    alignas(64) static int8_t a[16 * 64], b[16 * 64];
    alignas(64) static int32_t c[16 * 16];
    for (int i = 0; i < 16 * 64; ++i) { a[i] = 1; b[i] = 2; }
    _tile_zero(0); _tile_loadd(1, a, 64); _tile_loadd(2, b, 64);
    _tile_dpbssd(0, 1, 2); _tile_stored(0, c, 64); _tile_release();
    printf("%%d\\n", c[0]);
    return 0;
}
"""


def _tree(tmp_path: Path, text: str) -> Path:
    mmq = tmp_path / "src" / MMQ
    mmq.parent.mkdir(parents=True)
    mmq.write_text(text, encoding="utf-8")
    return mmq


def _patch(tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), str(tmp_path / "src")], capture_output=True, text=True, timeout=30
    )


def test_the_tile_configuration_call_is_replaced_and_nothing_else(tmp_path):
    before = f"void a();\n{CALL}\n    done = true;\n    _tile_loadconfig(&other);\n"
    mmq = _tree(tmp_path, before)
    assert _patch(tmp_path).returncode == 0
    after = mmq.read_text(encoding="utf-8").splitlines()
    assert after[1].startswith('    __asm__ volatile("ldtilecfg %0" :: "m"(tc));')
    assert [line for i, line in enumerate(after) if i != 1] == [
        line for i, line in enumerate(before.splitlines()) if i != 1
    ]
    # a second run (a rebuild from the same tree) leaves it as it is
    assert _patch(tmp_path).returncode == 0
    assert mmq.read_text(encoding="utf-8").splitlines() == after


def test_another_llama_cpp_version_stops_the_build_with_a_message(tmp_path):
    mmq = _tree(tmp_path, "    _tile_loadconfig(&config);\n")
    done = _patch(tmp_path)
    assert done.returncode == 1
    assert "not the one this patch expects" in done.stderr and str(mmq) in done.stderr
    assert mmq.read_text(encoding="utf-8") == "    _tile_loadconfig(&config);\n"


def test_a_tree_without_amx_code_is_left_alone(tmp_path):
    (tmp_path / "src").mkdir()
    assert _patch(tmp_path).returncode == 0
    assert [p.name for p in (tmp_path / "src").iterdir()] == []


def _has_amx() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return bool(re.search(r"\bamx_int8\b", flags)) and bool(re.search(r"\bamx_tile\b", flags))


@pytest.mark.skipif(not (_has_amx() and shutil.which("g++")), reason="needs an AMX CPU and g++")
def test_the_patched_call_configures_the_tiles_where_the_original_faults(tmp_path):
    mmq = _tree(tmp_path, PROGRAM % CALL)
    original = mmq.read_text(encoding="utf-8")
    assert _patch(tmp_path).returncode == 0
    runs = {}
    for name, text in (("original", original), ("patched", mmq.read_text(encoding="utf-8"))):
        source = tmp_path / f"{name}.cpp"
        source.write_text(text, encoding="utf-8")
        binary = tmp_path / name
        subprocess.run(
            ["g++", "-O3", "-mamx-tile", "-mamx-int8", str(source), "-o", str(binary)],
            check=True, timeout=120,
        )
        runs[name] = subprocess.run([str(binary)], capture_output=True, text=True, timeout=30)
    # 16 products of 1 x 2, summed by one tile multiply
    assert (runs["patched"].returncode, runs["patched"].stdout.strip()) == (0, "128")
    version = subprocess.run(["g++", "-dumpversion"], capture_output=True, text=True).stdout
    if version.split(".")[0] == "12":  # the compiler the crash was found with
        assert runs["original"].returncode == -11  # SIGSEGV in ldtilecfg
