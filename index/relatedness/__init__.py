"""How two articles relate: by text (`relations`: duplicate, near-duplicate), by calibrated evidence
(`model`, fitted per embedder; its files in `calibration/`), and which articles make one story
(`stories`, `story_links`). Pure functions on arrays; may import `text`."""
