"""The JSON verdict: ``Verdict`` → JSON text, redacted, keys in a stable order.

Keys come in the order of the models' fields (identity and outcome first — ``exit_code``
right after ``status`` —, the bulky recording last); mappings (metrics, errors by kind)
are sorted by the judge. Every string is redacted before encoding, except HDR encodings,
which hold only numbers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sla_runner.errors import ReportError
from sla_runner.redact import redact_data
from sla_runner.report.files import write_atomic
from sla_runner.verdict import VERDICT_FORMAT, VERDICT_FORMAT_VERSION, Verdict


def verdict_to_json(verdict: Verdict, *, secrets: frozenset[str] = frozenset()) -> str:
    dumped = verdict.model_dump(mode="json", by_alias=True)
    exit_code = dumped.pop("exit_code")
    ordered: dict[str, Any] = {}
    for key, value in dumped.items():
        ordered[key] = value
        if key == "status":
            ordered["exit_code"] = exit_code
    data = redact_data(ordered, secrets)
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_json(
    path: Path | str, verdict: Verdict, *, secrets: frozenset[str] = frozenset()
) -> Path:
    """Write the JSON verdict atomically."""
    return write_atomic(path, verdict_to_json(verdict, secrets=secrets))


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]", re.ASCII)
_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_surrogates(data: Any) -> Any:
    """Lone surrogates (an environment value that was not UTF-8, written escaped) replaced
    by U+FFFD, so that the verdict reads, prints and writes again."""
    if isinstance(data, str):
        return _SURROGATE.sub("\ufffd", data)
    if isinstance(data, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_without_surrogates(v) for v in data]
    return data


def verdict_from_json(text: str, *, source: str = "<verdict>") -> Verdict:
    """Read a JSON verdict back; ReportError when it is not one."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(f"{source}: not a JSON verdict: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != VERDICT_FORMAT:
        raise ReportError(f"{source}: not an sla-runner verdict (no format '{VERDICT_FORMAT}')")
    if _SURROGATE_ESCAPE.search(text):  # a lone surrogate no console or report can hold
        data = _without_surrogates(data)
    if data.get("format_version") != VERDICT_FORMAT_VERSION:
        raise ReportError(
            f"{source}: verdict format version {data.get('format_version')!r} is not supported "
            f"(this sla-runner reads version {VERDICT_FORMAT_VERSION})"
        )
    try:
        return Verdict.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ReportError(
            f"{source}: invalid verdict: {where}: {first['msg']} ({exc.error_count()} errors)"
        ) from None


def read_verdict(path: Path | str) -> Verdict:
    target = Path(path)
    try:
        text = target.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"{target}: cannot read the verdict: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ReportError(f"{target}: not a JSON verdict: not UTF-8 text ({exc.reason})") from None
    return verdict_from_json(text, source=str(target))
