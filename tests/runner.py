"""`make test`: make sure PostgreSQL and Redis answer, then run the whole suite.

The test session itself creates (and drops) a uniquely named PostgreSQL database and claims
an empty Redis database number (see tests/services.py), so runs never touch anyone's data.
"""

from __future__ import annotations

import subprocess
import sys

from tests import services


def main(argv: list[str]) -> int:
    services.ensure_postgres()
    services.ensure_redis()
    code = subprocess.call([sys.executable, "-m", "pytest", *argv])
    if code == 5:
        print("pytest collected no tests: counted as a failure", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
