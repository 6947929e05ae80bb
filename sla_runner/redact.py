"""Secrets never reach a report: every text a report writes goes through here.

A secret is a value the spec must not leak: header values such as ``Authorization`` and
values interpolated from environment variables (unless declared public). Each one is
replaced by ``***`` wherever it appears. Values shorter than :data:`MIN_SECRET_LENGTH`
characters are not treated as secrets: a variable set to ``3`` would otherwise turn every
digit 3 in a report into ``***``, and such a value protects nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus, unquote_plus, urlsplit, urlunsplit

MASK = "***"
MIN_SECRET_LENGTH = 4
# Beyond this many masks a text is scanned once (Masks) rather than searched once per mask.
SEARCHED_MASKS = 32
# Query parameters whose values are credentials by their name.
SECRET_QUERY_KEYS = frozenset(
    {
        "access_token",
        "api_key",
        "apikey",
        "auth",
        "code",
        "key",
        "password",
        "secret",
        "sig",
        "signature",
        "token",
    }
)
# Fields holding binary encodings (HDR histograms in base64): numbers only, never a
# secret, and masking a chance match inside them would corrupt the data.
BINARY_KEYS = frozenset({"hdr", "cpu_pct_hdr", "loop_lag_us_hdr", "send_lateness_us_hdr"})


def effective(secrets: Iterable[str]) -> Masks:
    """The secrets worth masking, with the forms a URL gives them (percent-encoded, and
    form-encoded with ``+`` for spaces) and a JSON string gives them (``\\"`` and
    ``\\uXXXX`` escapes), longest first so that overlapping ones mask fully."""
    kept = {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}
    forms = kept | {quote(s, safe="") for s in kept} | {quote_plus(s, safe="") for s in kept}
    forms |= {json.dumps(s, ensure_ascii=ascii)[1:-1] for s in kept for ascii in (False, True)}
    return Masks(sorted(forms, key=lambda s: (-len(s), s)))


class Masks(list[str]):
    """The masks of :func:`effective`, made once for many texts. Many of them (a data
    file's values are secrets: thousands) are found in one pass over a text, through an
    index by their first :data:`MIN_SECRET_LENGTH` characters and then by their length
    (values such as ``user00001``, ``user00002``, … share their first characters)."""

    __slots__ = ("_index",)

    def __init__(self, forms: list[str]) -> None:
        super().__init__(forms)
        self._index: dict[str, list[tuple[int, set[str]]]] | None = None

    def by_prefix(self) -> dict[str, list[tuple[int, set[str]]]]:
        """First characters → (length, the masks of that length), longest first."""
        index = self._index
        if index is None:
            by_length: dict[str, dict[int, set[str]]] = {}
            for form in self:
                lengths = by_length.setdefault(form[:MIN_SECRET_LENGTH], {})
                lengths.setdefault(len(form), set()).add(form)
            index = self._index = {
                prefix: sorted(lengths.items(), reverse=True)
                for prefix, lengths in by_length.items()
            }
        return index


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each secret replaced by ``***``."""
    return masked(text, effective(secrets))


def masked(text: str, masks: list[str]) -> str:
    """``text`` with each of ``masks`` (from :func:`effective`, made once for many texts)
    replaced by ``***``."""
    if isinstance(masks, Masks) and len(masks) > SEARCHED_MASKS:
        return _scanned(text, masks.by_prefix())
    for secret in masks:
        text = text.replace(secret, MASK)
    return text


def _scanned(text: str, index: dict[str, list[tuple[int, set[str]]]]) -> str:
    """``text`` with every occurrence of a mask replaced by ``***``: at each position the
    longest mask that starts there; occurrences that overlap mask as one run."""
    width = MIN_SECRET_LENGTH
    get = index.get
    pieces: list[str] = []
    kept_from = 0  # the text not yet copied starts here
    start = end = -1  # the run being masked: [start, end)
    for i in range(len(text) - width + 1):
        found = get(text[i : i + width])
        if found is None:
            continue
        for length, forms in found:  # longest first
            if text[i : i + length] in forms:
                if i < end:  # overlaps the run: extends it
                    end = max(end, i + length)
                else:
                    if end >= 0:
                        pieces += (text[kept_from:start], MASK)
                        kept_from = end
                    start, end = i, i + length
                break
    if end < 0:
        return text
    pieces += (text[kept_from:start], MASK, text[end:])
    return "".join(pieces)


def redact_url(url: str) -> str:
    """A URL without its password and without the values of credential-like query keys."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{host}" if ":" in userinfo else f"{MASK}@{host}"
    # Each pair as written: re-encoding the others would hide a secret among them from
    # the masking of its raw form that follows.
    pairs = [pair.partition("=") for pair in parts.query.split("&")] if parts.query else []
    query = "&".join(
        f"{key}={MASK}" if unquote_plus(key).lower() in SECRET_QUERY_KEYS else key + eq + value
        for key, eq, value in pairs
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_data(data: Any, secrets: Iterable[str]) -> Any:
    """A copy of JSON-like ``data`` with every string (keys too) redacted, binary fields kept."""
    masks = effective(secrets)
    if not masks:
        return data
    return _walk(data, masks)


def _walk(data: Any, masks: Masks) -> Any:
    if isinstance(data, str):
        return masked(data, masks)
    if isinstance(data, dict):
        return {
            masked(str(k), masks): v if k in BINARY_KEYS else _walk(v, masks)
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [_walk(v, masks) for v in data]
    return data
