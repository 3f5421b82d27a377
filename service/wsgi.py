"""WSGI entry for gunicorn: `gunicorn 'service.wsgi:app'`. Loads the index before taking traffic."""
from . import create_app_or_exit
from .observability import configure_logging
from .security import warn_about_writes

app = create_app_or_exit()
configure_logging(json_logs=bool(app.config["JSON_LOGS"]))
app.extensions["engine"].load()
app.extensions["engine"].repair_links()  # after a writer that died mid-ingest
warn_about_writes(app)
