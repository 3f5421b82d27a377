"""The query path over the live index: the live version and its replayed writes (`live_index`,
`staleness`), the candidates and their evidence (`query`, `candidates`, `article_words`), filters
and ranking (`selection`, `ranking`) and the answer's shape (`present`). May import every package
below it: `store`, `ann`, `embedding`, `relatedness`, `records`, `text`."""
