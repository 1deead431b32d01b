"""`python -m localrun.chalice_local local --stage local ...`: the `chalice` command line with the local
gateway answering unknown paths in the project's error shape (see localrun.gateway)."""

from __future__ import annotations

import sys

from localrun.gateway import install

if __name__ == "__main__":
    install()
    from chalice.cli import main

    sys.exit(main())
