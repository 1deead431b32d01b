"""`make bench`: see bench/__main__.py."""

from __future__ import annotations

import sys
from pathlib import Path

# `python -m bench` from the project root works without the Makefile's PYTHONPATH (the simulator and the
# local cloud live under localstack/, which must not become a package of its own).
for _path in (Path(__file__).resolve().parent.parent, Path(__file__).resolve().parent.parent / "localstack"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
