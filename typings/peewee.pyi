# peewee 4 ships stubs that type every query as yielding model instances, also after
# `.tuples()`, `.dicts()` and `.scalar()`, so correct code fails the type check. Until they
# do, mypy reads peewee as untyped (mypy_path in pyproject.toml puts this file first).
from typing import Any

def __getattr__(name: str) -> Any: ...
