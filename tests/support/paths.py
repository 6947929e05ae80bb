"""Where things are: the repository root, which the tests run the CLI from."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
