"""Liveness of the service and what it serves."""
from __future__ import annotations

from flask import Blueprint, current_app

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return {"status": "ok", **current_app.extensions["engine"].health()}
