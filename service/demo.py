"""The demo page of `make run`: pick an article, see its similar stories."""
from __future__ import annotations

from flask import Blueprint, current_app

bp = Blueprint("demo", __name__)


@bp.get("/")
def index():
    return current_app.send_static_file("demo.html")
