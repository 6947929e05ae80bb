"""Suggestions, "did you mean …?": the one helper every spec message uses for them.

A leaf module (no imports from the package), so the models, the threshold parser and the
message layer can all use it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, options: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The option most like ``word`` (difflib's ratio of at least ``cutoff``), or None."""
    found = difflib.get_close_matches(word, list(options), n=1, cutoff=cutoff)
    return found[0] if found else None


def did_you_mean(word: str, options: Iterable[str], cutoff: float = 0.6) -> str:
    """``"; did you mean stages?"`` when an option is close to ``word``, else ``""``."""
    close = closest(word, options, cutoff)
    return f"; did you mean {close}?" if close is not None and close != word else ""
