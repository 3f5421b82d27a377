"""Text for matching, never for embedding: normalisation (`normalize`), what is embedded and in which
language (`prepare`), the words a query asks for (`lexical`, `word_weights`), the terms two texts
share (`terms`) and text reuse (`overlap`: fingerprints and shingles). Pure functions on strings and
arrays; imports nothing else of the engine."""
