"""Background jobs. Each is a module-level function taking ids, wrapped by `job`.

`job` gives the function an app context (a worker process builds the app once) and its own
database connection, closed afterwards, so jobs never share a request's connection.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from flask import current_app, has_app_context

from webapp.db import db

F = TypeVar("F", bound=Callable[..., object])
_worker_app = None


def _app():
    global _worker_app
    if has_app_context():
        return current_app._get_current_object()
    if _worker_app is None:
        from webapp import create_app

        _worker_app = create_app()
    return _worker_app


def job(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*ids: int):
        app = _app()
        with app.app_context():
            opened = db.connect(reuse_if_open=True)
            try:
                return fn(*ids)
            finally:
                if opened and not db.is_closed():
                    db.close()

    return wrapper  # type: ignore[return-value]
