"""Fusion and near-duplicate detection, as pure functions."""

import pytest

from retriever.fusion import fuse_rrf, is_near_duplicate


def test_rrf_rewards_agreement_and_honours_weights():
    fused = fuse_rrf({"bm25": [1, 2, 3], "dense": [3, 2, 9]}, {"bm25": 1.0, "dense": 1.0}, k=60)
    assert [d for d, _ in fused][:2] in ([2, 3], [3, 2])
    assert fused[0][1] > fused[-1][1]
    only_dense = fuse_rrf({"bm25": [1], "dense": [9]}, {"bm25": 0.0, "dense": 1.0})
    assert [d for d, _ in only_dense] == [9]


def test_rrf_rejects_bad_k():
    with pytest.raises(ValueError, match="rrf k"):
        fuse_rrf({"a": [1]}, {}, k=0)


def test_near_duplicates():
    text = "2023年末全市常住人口2185.8万人，较上年末增加1.5万人。"
    assert is_near_duplicate(("a", 0, 100), ("a", 10, 110), "x", "y")  # mostly the same span
    assert not is_near_duplicate(("a", 0, 100), ("a", 90, 190), "甲乙丙丁", "戊己庚辛")
    # A long candidate is not hidden by a short neighbour that repeats its last sentence.
    assert not is_near_duplicate(("a", 0, 60), ("a", 40, 75), "甲乙丙丁", "戊己庚辛")
    assert is_near_duplicate(("a", 40, 75), ("a", 0, 60), "甲乙丙丁", "戊己庚辛")
    assert is_near_duplicate(("a", 0, 10), ("b", 0, 10), text, text + " ")  # same words elsewhere
