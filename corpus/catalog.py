"""The report catalog: what each file is called, by whom, and for which year."""

from __future__ import annotations

import json
import re
from pathlib import Path

from corpus.errors import CorpusError
from corpus.models import CatalogEntry

CATALOG_FILE = "catalog.json"


def load_catalog(corpus_dir: Path) -> dict[str, CatalogEntry]:
    """Catalog entries keyed by file name; no `catalog.json` means an empty catalog."""
    path = Path(corpus_dir) / CATALOG_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorpusError(
            f"{path} is not valid JSON ({exc}); fix or delete the catalog file."
        ) from exc
    if not isinstance(data, list):
        raise CorpusError(f"{path} must hold a JSON list of report entries.")
    entries: dict[str, CatalogEntry] = {}
    for i, item in enumerate(data):
        if not isinstance(item, dict) or not item.get("file") or not item.get("doc_id"):
            raise CorpusError(f'{path}: entry {i + 1} needs at least "doc_id" and "file".')
        year = item.get("year")
        entries[str(item["file"])] = CatalogEntry(
            doc_id=str(item["doc_id"]),
            file=str(item["file"]),
            title=str(item.get("title") or Path(str(item["file"])).stem),
            issuer=str(item.get("issuer") or ""),
            period=str(item.get("period") or ""),
            year=int(year) if isinstance(year, int | str) and str(year).isdigit() else None,
            kind=str(item.get("kind") or ""),
            aliases=tuple(str(a) for a in item.get("aliases") or ()),
            short_title=str(item.get("short_title") or ""),
        )
    return entries


def slugify(stem: str) -> str:
    """A stable, URL-safe id from a file stem (Chinese characters are kept)."""
    slug = re.sub(r"[^\w]+", "-", stem.strip().lower()).strip("-_")
    return slug or "report"


def entry_for(path: Path, catalog: dict[str, CatalogEntry], text: str) -> CatalogEntry:
    """The catalog entry of a file, or one derived from its name and first line."""
    path = Path(path)
    if path.name in catalog:
        return catalog[path.name]
    title = path.stem
    for line in text.splitlines():
        candidate = line.strip().lstrip("#").strip().strip("*").strip()
        if candidate:
            title = candidate
            break
    found = re.search(r"(?<!\d)((?:19|20)\d{2})(?!\d)", title)
    return CatalogEntry(
        doc_id=slugify(path.stem),
        file=path.name,
        title=title,
        year=int(found.group(1)) if found else None,
        kind="document",
    )
