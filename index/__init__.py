"""The engine: articles, embeddings, the FAISS index and similarity queries. Knows nothing of HTTP.

Packages, each importing only those listed before it (and the utilities at the top):

    text         normalisation, words, shared terms, shingles          (pure)
    records      the article, its stored form, a request's options
    relatedness  relations by text, calibrated relatedness, stories    (pure)
    embedding    models, the embedding cache, Ray backfill
    ann          the vector index (FAISS)
    store        articles, words, change log, versions (SQLite or PostgreSQL)
    search       the query path over the live index
    answers      answers kept between requests and processes

At the top: `engine` (the one facade `service/` uses), `writes` (the write path), `rebuild`,
`calibrate` and `prepared` (jobs and steps over the packages), and utilities every package may use:
`errors`, `sqlite`, `lru`, `threads`, `crash_points`.
"""
