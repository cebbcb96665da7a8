"""Save the plots embedded in a `planqa eval` report.html / compare.html as PNG files (for the
README): `.venv/bin/python bench/export_plots.py RUN_DIR/report.html docs/eval PREFIX`."""

from __future__ import annotations

import base64
import re
import sys
from pathlib import Path

_IMG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)">')


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    page, out, prefix = Path(argv[0]), Path(argv[1]), argv[2]
    out.mkdir(parents=True, exist_ok=True)
    found = _IMG.findall(page.read_text(encoding="utf-8"))
    for i, (data, alt) in enumerate(found, 1):
        slug = re.sub(r"[^a-z0-9]+", "-", alt.lower()).strip("-") or f"plot{i}"
        target = out / f"{prefix}-{slug}.png"
        target.write_bytes(base64.b64decode(data))
        print(target)
    return 0 if found else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
