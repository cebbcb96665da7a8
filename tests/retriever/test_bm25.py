"""BM25 scoring and its JSON round trip."""

import numpy as np
import pytest

from retriever.bm25 import BM25Index

DOCS = [
    ["常住人口", "2185.8万人", "2185.8"],
    ["中轴线", "世界遗产"],
    ["轨道交通", "里程", "公里"],
    ["常住人口", "轨道交通"],
]


class TestBM25Index:
    def test_invalid_parameters(self):
        with pytest.raises(ValueError, match="k1"):
            BM25Index.build(DOCS, k1=-1)
        with pytest.raises(ValueError):
            BM25Index.build(DOCS, b=2)

    def test_ranks_the_matching_document_first(self):
        bm25 = BM25Index.build(DOCS)
        assert bm25.top(["中轴线"], 3)[0][0] == 1
        # A rarer term outweighs a common one.
        top = bm25.top(["常住人口", "2185.8"], 4)
        assert top[0][0] == 0 and {row for row, _ in top} == {0, 3}

    def test_no_match_returns_nothing(self):
        assert BM25Index.build(DOCS).top(["森林"], 3) == []

    def test_round_trip(self, tmp_path):
        bm25 = BM25Index.build(DOCS)
        bm25.save(tmp_path / "bm25.json")
        loaded = BM25Index.load(tmp_path / "bm25.json")
        q = ["常住人口", "轨道交通"]
        assert np.allclose(bm25.scores(q), loaded.scores(q), atol=1e-5)
        assert not list(tmp_path.glob("*.tmp"))
