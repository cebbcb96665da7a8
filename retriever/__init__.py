"""Finding the passages for a question: BM25 (jieba), dense (FAISS), fusion, filters, rerank -> `Hit`s."""
