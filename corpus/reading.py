"""Read report files (txt, md, pdf, docx) into cleaned `Report`s without ever writing to them."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

from corpus.catalog import entry_for, load_catalog
from corpus.cleaning import clean_report_text
from corpus.errors import CorpusError
from corpus.models import Report

SUPPORTED_SUFFIXES = (".txt", ".md", ".pdf", ".docx")
# A README in the corpus folder documents the folder; it is not a report.
IGNORED_NAMES = {"readme.md", "readme.txt"}


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's raw bytes (what the index compares to spot changed reports)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def read_source(path: Path) -> str:
    """The text of one report file; CorpusError (naming the file) when it cannot be used."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise CorpusError(
            f"{path.name}: unsupported file type {suffix or '(none)'}; "
            f"use one of {', '.join(SUPPORTED_SUFFIXES)}."
        )
    try:
        if suffix in (".txt", ".md"):
            text = _decode_text(path.read_bytes(), path)
        elif suffix == ".pdf":
            text = _read_pdf(path)
        else:
            text = _read_docx(path)
    except CorpusError:
        raise
    except Exception as exc:  # the parsers raise many types for damaged files
        raise CorpusError(f"{path.name}: cannot be read ({type(exc).__name__}: {exc}).") from exc
    if not text.strip():
        raise CorpusError(f"{path.name}: the file holds no text.")
    return text


def _decode_text(data: bytes, path: Path) -> str:
    if b"\x00" in data:
        raise CorpusError(f"{path.name}: looks like a binary file (NUL bytes), not text.")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Chinese government texts that are not UTF-8 are almost always GB2312/GBK/GB18030.
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise CorpusError(
            f"{path.name}: not UTF-8 or GB18030 text; save it as UTF-8 and try again."
        ) from exc


def _read_pdf(path: Path) -> str:
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def _read_docx(path: Path) -> str:
    import docx

    document = docx.Document(str(path))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            cells = [cell.text.strip().replace("\n", " ") for cell in row.cells]
            parts.append("| " + " | ".join(cells) + " |")
    return "\n".join(parts)


CorpusDirs = Path | Sequence[Path]


def corpus_folders(corpus_dir: CorpusDirs) -> tuple[Path, ...]:
    """One folder or several, as a tuple of paths (a single `Path` stays one folder)."""
    if isinstance(corpus_dir, str | os.PathLike):
        return (Path(corpus_dir),)
    return tuple(Path(d) for d in corpus_dir)


def corpus_files(corpus_dir: CorpusDirs, hidden: Collection[str] = ()) -> dict[str, Path]:
    """The report files of the folders by file name, folder by folder and sorted by name.

    READMEs, dot-files (uploads in progress, macOS `._` copies) and `hidden` names are left out;
    folders that do not exist are skipped. A name in two folders is a CorpusError: the index
    tells reports apart by file name.
    """
    files: dict[str, Path] = {}
    for folder in corpus_folders(corpus_dir):
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir(), key=lambda p: p.name):
            name = path.name
            if name.startswith(".") or name.lower() in IGNORED_NAMES or name in hidden:
                continue
            if path.suffix.lower() not in SUPPORTED_SUFFIXES or not path.is_file():
                continue
            if name in files:
                raise CorpusError(
                    f"Two reports are both named {name} ({files[name].parent} and {folder}); "
                    "rename or remove one of them."
                )
            files[name] = path
    return files


def load_reports(
    corpus_dir: CorpusDirs,
    warn: Callable[[str], None] | None = None,
    hidden: Collection[str] = (),
) -> list[Report]:
    """Every supported file of the folder(s), read and cleaned; bad files are skipped with a
    warning, `hidden` file names are left out. Each folder has its own optional catalog.json."""
    folders = corpus_folders(corpus_dir)
    for folder in folders:
        if not folder.is_dir():
            raise CorpusError(f"Corpus folder {folder} does not exist or is not a folder.")
    warn = warn or logging.getLogger(__name__).warning
    catalogs = {folder: load_catalog(folder) for folder in folders}
    reports: list[Report] = []
    for path in corpus_files(folders, hidden).values():
        try:
            raw = read_source(path)
            sha = sha256_file(path)
        except CorpusError as exc:
            warn(f"skipped {path.name}: {exc}")
            continue
        except OSError as exc:
            warn(f"skipped {path.name}: cannot be read ({exc})")
            continue
        text, line_map = clean_report_text(raw)
        if not text.strip():
            warn(f"skipped {path.name}: no text left after cleaning")
            continue
        reports.append(
            Report(
                entry=entry_for(path, catalogs[path.parent], text),
                source_path=str(path),
                sha256=sha,
                text=text,
                line_map=line_map,
            )
        )
    return reports
