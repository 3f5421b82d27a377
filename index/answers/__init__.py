"""Answers of GET similar kept between requests and processes: the cache (`cache`), its shared file
(`file`) and computing, filing and warming answers (`similar`). May import `search` and below."""
