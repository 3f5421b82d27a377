"""The engine: articles, embeddings, the FAISS index and similarity queries. Knows nothing of HTTP."""
