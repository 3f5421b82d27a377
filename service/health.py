"""Liveness of the service and what it serves."""
from __future__ import annotations

from flask import Blueprint, current_app

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """200 while the process answers; `status` says whether its store can be trusted (see /readyz)."""
    engine = current_app.extensions["engine"]
    health = engine.health()  # caught up with the store and the live version first
    problem = engine.store_problem()
    return {"status": "ok" if problem is None else "store_unusable", **health,
            **({"problem": problem} if problem else {})}
