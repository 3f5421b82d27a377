"""The shapes the engine passes around: an article as the CMS sends it (`article`, with its
validation), as the store holds it (`stored`), and what a similar request asks (`options`).
May import `text` and `errors`."""
