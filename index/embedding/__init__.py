"""Texts to unit vectors: the models behind one small interface (`models`), the cache that embeds
a text once per model (`cache`, `cached`), and embedding a backlog on Ray (`backfill`).
May import `text` and the utilities at the top of `index`."""
