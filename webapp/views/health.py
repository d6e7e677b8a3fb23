"""Health endpoints for load balancers and operators."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify

from webapp.db import db
from webapp.queue import get_queue

bp = Blueprint("health", __name__)
log = logging.getLogger("ledgerlink.health")


@bp.get("/healthz")
def healthz():
    """Answer while the process is up."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Answer 200 only when the database and the queue both answer; else name what is down."""
    down = []
    try:
        db.execute_sql("SELECT 1")
    except Exception:  # noqa: BLE001 - any failure means not ready
        log.warning("readiness: database not answering", exc_info=True)
        down.append("database")
    try:
        get_queue().ping()
    except Exception:  # noqa: BLE001
        log.warning("readiness: queue not answering")
        down.append("queue")
    if down:
        return jsonify(status="unavailable", down=down), 503
    return jsonify(status="ok")
