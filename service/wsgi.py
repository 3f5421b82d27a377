"""WSGI entry for gunicorn: `gunicorn 'service.wsgi:app'`. Loads the index before taking traffic."""
from . import create_app
from .observability import configure_logging

app = create_app()
configure_logging(json_logs=bool(app.config["JSON_LOGS"]))
app.extensions["engine"].load()
