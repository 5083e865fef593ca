"""``benchmarks`` is a folder at the repository root, not an installed package: make it importable
when pytest is started as ``pytest`` (``python -m pytest`` already has the working directory on the path)."""

import sys
from pathlib import Path

REPO = str(Path(__file__).resolve().parents[2])
if REPO not in sys.path:
    sys.path.insert(0, REPO)
