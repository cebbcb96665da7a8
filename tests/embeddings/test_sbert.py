"""The sentence-transformers backend, on a tiny model the test builds itself (no hub access)."""

from pathlib import Path

import numpy as np
import pytest

from corpus.errors import EmbedderError
from embeddings.base import make_embedder
from embeddings.sbert import SentenceTransformerEmbedder, default_prefixes

st = pytest.importorskip("sentence_transformers")


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory) -> Path:
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel, BertTokenizerFast

    root = tmp_path_factory.mktemp("tiny-st")
    hf_dir = root / "hf"
    hf_dir.mkdir()
    chars = sorted(set("北京市常住人口万人中轴线世界遗产名录交通轨道里程公里森林覆盖率"))
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars, *"0123456789.%"]
    (hf_dir / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab_file=str(hf_dir / "vocab.txt"), tokenize_chinese_chars=True)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128,
    )
    import torch

    torch.manual_seed(0)
    BertModel(config).save_pretrained(hf_dir)
    tokenizer.save_pretrained(hf_dir)
    word = models.Transformer(str(hf_dir), max_seq_length=64)
    pooling = models.Pooling(word.get_word_embedding_dimension(), pooling_mode="mean")
    out = root / "tiny-model"
    SentenceTransformer(modules=[word, pooling], device="cpu").save(str(out))
    return out


class TestSentenceTransformerEmbedder:
    def test_loads_local_path_and_embeds(self, tiny_model_dir):
        emb = SentenceTransformerEmbedder(str(tiny_model_dir))
        assert emb.dim == 32
        vecs = emb.embed_passages(["北京市常住人口", "森林覆盖率"])
        assert vecs.shape == (2, 32)
        assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
        # Same text -> same vector: the model is deterministic in eval mode.
        again = emb.embed_passages(["北京市常住人口"])
        assert np.allclose(vecs[0], again[0], atol=1e-5)

    def test_factory_routes_other_names_here(self, tiny_model_dir):
        emb = make_embedder(str(tiny_model_dir))
        assert emb.embedder_id.startswith("st:tiny-model")

    def test_prefixes_change_query_vectors(self, tiny_model_dir):
        plain = SentenceTransformerEmbedder(str(tiny_model_dir), query_prefix="", passage_prefix="")
        prefixed = SentenceTransformerEmbedder(str(tiny_model_dir), query_prefix="中轴线", passage_prefix="")
        assert plain.embedder_id != prefixed.embedder_id
        assert not np.allclose(plain.embed_queries(["北京"]), prefixed.embed_queries(["北京"]))

    def test_unknown_model_is_a_plain_error_without_download(self, monkeypatch):
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        with pytest.raises(EmbedderError, match="never downloaded"):
            SentenceTransformerEmbedder("no-such-org/no-such-model-planqa")

    def test_invalid_arguments(self):
        with pytest.raises(ValueError):
            SentenceTransformerEmbedder("")
        with pytest.raises(ValueError, match="batch_size"):
            SentenceTransformerEmbedder("x", batch_size=0)


def test_default_prefixes_for_known_families():
    assert default_prefixes("intfloat/multilingual-e5-small") == ("query: ", "passage: ")
    assert default_prefixes("BAAI/bge-small-zh-v1.5")[0].startswith("为这个句子")
    assert default_prefixes("BAAI/bge-m3") == ("", "")
