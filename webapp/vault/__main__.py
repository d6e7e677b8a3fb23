"""`python -m webapp.vault create-keyring PATH`: make a production keyring file."""

from __future__ import annotations

import sys

from webapp.vault.setup import main

if __name__ == "__main__":
    sys.exit(main())
