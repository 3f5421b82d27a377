"""WSGI entry for gunicorn: `gunicorn 'service.wsgi:app'`. Loads the index before taking traffic."""
from . import create_app

app = create_app()
app.extensions["engine"].load()
