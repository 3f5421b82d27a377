"""Backfilling an archive from a site's sitemaps: `sitemaps` (which pages), `pages` (fetched politely),
`extract` (their articles), `state` (what earlier runs did), run by `backfill` (`python -m service backfill-site`)."""
