"""Hard filters and the report a question names."""

from corpus.models import CatalogEntry, Chunk
from retriever.filters import ReportFilter, named_reports, quoted_terms

CATALOG = [
    CatalogEntry("checkup-2024", "a.txt", "北京城市总体规划实施体检报告公众读本（2024年度）", year=2024,
                 kind="checkup-report", aliases=("2024年度读本",)),
    CatalogEntry("checkup-2023", "b.txt", "北京城市总体规划实施体检报告公众读本（2023年度）", year=2023,
                 kind="checkup-report", aliases=("2023年度读本",)),
    CatalogEntry("region", "c.txt", "现代化首都都市圈空间协同规划（2023—2035年）", year=2023,
                 kind="regional-plan", aliases=("都市圈规划",)),
]


def _chunk(doc_id: str, year: int, kind: str) -> Chunk:
    return Chunk(f"{doc_id}:0", doc_id, "t", (), "x", 0, 1, 1, 1, 0, year, kind)


def test_named_reports_by_year_edition_alias_and_title():
    assert named_reports("2023年度读本里常住人口是多少", CATALOG) == {"checkup-2023"}
    assert named_reports("2024 年度 森林覆盖率", CATALOG) == {"checkup-2024"}
    assert named_reports("根据都市圈规划，通勤圈范围多大？", CATALOG) == {"region"}
    assert named_reports("现代化首都都市圈空间协同规划的期限", CATALOG) == {"region"}
    # A plain year is a time, not a report.
    assert named_reports("2023年末常住人口是多少", CATALOG) == frozenset()


def test_filter_accepts():
    f = ReportFilter(doc_ids=frozenset({"region"}), kinds=frozenset({"regional-plan"}))
    assert f.accepts(_chunk("region", 2023, "regional-plan"))
    assert not f.accepts(_chunk("checkup-2023", 2023, "checkup-report"))
    assert ReportFilter().is_empty and ReportFilter(years=frozenset({2023})).accepts(
        _chunk("x", 2023, "k")
    )


def test_quoted_terms():
    assert quoted_terms("大兴机场临空经济区的“三区叠加”是哪三区？") == ["三区叠加"]
    assert quoted_terms('"两个 百分百"和「一院一策」') == ["两个百分百", "一院一策"]
    # A quoted list is looked up item by item; a one-character quote says nothing.
    assert quoted_terms("“一核、两区……一廊”中的“一廊”指什么？") == ["一核", "两区", "一廊"]
    assert quoted_terms("他说“好”") == []
    assert quoted_terms("2024年常住人口是多少？") == []
    assert quoted_terms("《北京城市总体规划》的期限") == []  # a title names a report, not a term
