"""WSGI entry for gunicorn: `gunicorn 'service.wsgi:app'`. Loads the index before taking traffic."""
from . import create_app_or_exit
from .feeds.background import follow_in_background
from .observability import configure_logging
from .security import warn_about_writes

app = create_app_or_exit()
configure_logging(json_logs=bool(app.config["JSON_LOGS"]))
app.extensions["engine"].load()
app.extensions["engine"].repair_links()  # after a writer that died mid-ingest
warn_about_writes(app)
follow_in_background(app)  # in one worker: the one that holds the data folder's .feeds.lock
