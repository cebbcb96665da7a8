"""Joining and verifying the bundled GGUF from its part packages."""

from __future__ import annotations

import hashlib
import os

import pytest

from assistant import model_files as mf


def _parts(tmp_path, chunks: list[bytes]):
    paths = []
    for i, data in enumerate(chunks, start=1):
        path = tmp_path / f"part{i:02d}.bin"
        path.write_bytes(data)
        paths.append(path)
    whole = b"".join(chunks)
    return paths, len(whole), hashlib.sha256(whole).hexdigest()


class TestAssemble:
    def test_joins_in_order_and_verifies(self, tmp_path):
        parts, size, sha = _parts(tmp_path, [b"GGUF", b"-middle-", b"end"])
        target = tmp_path / "cache" / "model.gguf"
        assert mf.assemble(parts, target, size, sha) == target
        assert target.read_bytes() == b"GGUF-middle-end"
        assert mf.is_verified(target, size, sha)

    def test_damaged_cache_is_joined_again(self, tmp_path):
        parts, size, sha = _parts(tmp_path, [b"abc", b"def"])
        target = tmp_path / "model.gguf"
        mf.assemble(parts, target, size, sha)
        target.write_bytes(b"abX" + b"def")  # same size, different bytes, new mtime
        os.utime(target, ns=(1, 1))
        assert not mf.is_verified(target, size, sha)
        mf.assemble(parts, target, size, sha)
        assert target.read_bytes() == b"abcdef"

    def test_truncated_cache_is_joined_again(self, tmp_path):
        parts, size, sha = _parts(tmp_path, [b"abc", b"def"])
        target = tmp_path / "model.gguf"
        mf.assemble(parts, target, size, sha)
        target.write_bytes(b"abc")
        assert mf.assemble(parts, target, size, sha).read_bytes() == b"abcdef"

    def test_wrong_parts_are_refused_and_leave_nothing(self, tmp_path):
        parts, size, _ = _parts(tmp_path, [b"abc", b"def"])
        target = tmp_path / "model.gguf"
        with pytest.raises(mf.ModelFileError, match="Reinstall"):
            mf.assemble(parts, target, size, "0" * 64)
        assert not target.exists()
        assert not list(tmp_path.glob(".*.partial"))

    def test_progress_counts_every_byte(self, tmp_path):
        parts, size, sha = _parts(tmp_path, [b"x" * 10, b"y" * 5])
        seen: list[int] = []
        mf.assemble(parts, tmp_path / "m.gguf", size, sha, progress=seen.append)
        assert sum(seen) == size


def test_missing_package_is_a_plain_error(monkeypatch):
    monkeypatch.setattr(mf, "BUNDLED_PACKAGE", "planqa-no-such-package-{}")
    with pytest.raises(mf.ModelFileError, match="not installed"):
        mf.part_files()


def test_user_model_path_must_exist(tmp_path):
    with pytest.raises(mf.ModelFileError, match="does not exist"):
        mf.resolve_model_path(str(tmp_path / "missing.gguf"))
    other = tmp_path / "mine.gguf"
    other.write_bytes(b"GGUF")
    assert mf.resolve_model_path(str(other)) == other


@pytest.mark.slow
def test_installed_parts_add_up_to_the_bundled_model(tmp_path):
    pytest.importorskip("llama_cpp")
    parts = mf.part_files()
    assert len(parts) == mf.BUNDLED_PARTS
    assert [p.name for p in parts] == [f"part{i:02d}.bin" for i in range(1, 23)]
    assert sum(p.stat().st_size for p in parts) == mf.BUNDLED_SIZE
    path = mf.bundled_model_path(cache_dir=tmp_path)
    assert path.stat().st_size == mf.BUNDLED_SIZE and path.read_bytes()[:4] == b"GGUF"
