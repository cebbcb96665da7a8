"""Transport modes: a figure of one mode given for a question about another.

The reports put the modes side by side: "京张高铁、京唐城际、津兴城际等开通运营，铁路营业里程超1.1万
公里。其中高铁总里程达到2624公里". Asked for Beijing's 轨道交通 (metro) mileage or the region's 城际
mileage, the small model answers with the 高铁's 2624公里: a real, cited figure of another mode. A
figure's mode is the one named in its clause or the clause before it (`figure_clauses`).
"""

from __future__ import annotations

from collections.abc import Sequence

from assistant.figure_choice import figure_clauses

# Each mode with the names that mean it; 地铁 is what people call the 轨道交通 network. A longer
# name is read first, so 城际铁路 is 城际, not 铁路, and 高速铁路 is 高铁, not 高速公路.
MODES: dict[str, tuple[str, ...]] = {
    "轨道交通": ("城市轨道交通", "轨道交通", "城市轨道", "地铁", "轨道"),
    "高铁": ("高速铁路", "高铁"),
    "城际铁路": ("城际铁路", "城际"),
    "市郊铁路": ("市域（郊）铁路", "市域(郊)铁路", "市郊铁路", "市域铁路"),
    "铁路": ("铁路",),
    "高速公路": ("高速公路",),
}
_NAMES = sorted(
    ((name, mode) for mode, names in MODES.items() for name in names), key=lambda x: -len(x[0])
)


def modes_named(text: str) -> frozenset[str]:
    """The modes `text` names, each name read once (longest first)."""
    found = set()
    for name, mode in _NAMES:
        if name in text:
            found.add(mode)
            text = text.replace(name, "\0")
    return frozenset(found)


def other_mode(
    question: str, figures: Sequence[str], cited: Sequence[str]
) -> tuple[frozenset[str], frozenset[str]]:
    """(the modes a question asks about, the modes its answer's figures are of) when every figure
    found in the `cited` passages is of a mode the question does not ask about; (empty, empty)
    when the question names no mode, a figure's clause names none or an asked one, or no figure
    is found."""
    asked = modes_named(question)
    if not asked:
        return frozenset(), frozenset()
    told: set[str] = set()
    for figure in figures:
        clauses = [c for text in cited for c in figure_clauses(figure, text)]
        if not clauses:
            continue
        named = frozenset().union(*(modes_named(c) for c in clauses))
        if not named or named & asked:
            return frozenset(), frozenset()
        told |= named
    return (asked, frozenset(told)) if told else (frozenset(), frozenset())
