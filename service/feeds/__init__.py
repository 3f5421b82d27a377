"""Following a site's feeds (RSS 2.0, Atom, JSON Feed) into the store: `fetch`, then `formats`, polled
by `follower` (`python -m service follow URL...`)."""
