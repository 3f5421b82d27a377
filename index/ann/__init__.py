"""Nearest neighbours by inner product over unit vectors, by integer key: the interface (`base`), FAISS
behind it (`faiss_index`: exact, or HNSW with 8-bit vectors beyond `FLAT_MAX`), and the one factory
(`factory`). Knows only numpy and FAISS."""
