"""Where the engine's state persists: the articles, their words and change log (`base.Store`, written
once in `sql_store` over a dialect: SQLite in `sqlite_store` or PostgreSQL in `pg_store`, chosen by
`factory`), the word index (`word_index`), the index versions on disk (`snapshots`) and what
PostgreSQL shares between machines (`pg_embeddings`, `pg_answers`, `pg_buckets`, `pg_versions`).
May import `records`, `text`, `embedding` (its cache's table), `ann` (version files)."""
