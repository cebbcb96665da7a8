"""Text to unit vectors (bundled e5 by default, sentence-transformers optional) and the FAISS index file."""
