"""A Prometheus series as a spec names it: ``name`` or ``name{label="value", ...}``.

The selector matches the samples of a scrape whose name is ``name`` and whose labels
include every label written (others may be there too), as an instant selector does in
PromQL with ``=`` matchers only. The exposition text itself is read by
``prometheus_client``'s parser (:mod:`sla_runner.engine.samplers.scrape`), never here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import PlainSerializer, PlainValidator
from pydantic.json_schema import WithJsonSchema
from pydantic_core import PydanticCustomError

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SELECTOR = re.compile(rf"\s*(?P<name>{_NAME})\s*(?:\{{(?P<labels>.*)\}})?\s*", re.DOTALL)
_LABEL = re.compile(r'\s*(?P<key>[a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"(?P<value>(?:[^"\\]|\\.)*)"\s*')
_ESCAPES = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}
SERIES_PATTERN = rf"^\s*{_NAME}\s*(\{{.*\}})?\s*$"


@dataclass(frozen=True)
class SeriesSelector:
    """``db_pool_in_use{pool="main"}``: a sample name and the labels it must carry."""

    text: str
    name: str
    labels: tuple[tuple[str, str], ...]  # sorted by label name

    def matches(self, name: str, labels: dict[str, str]) -> bool:
        return name == self.name and all(labels.get(k) == v for k, v in self.labels)

    @classmethod
    def parse(cls, text: str) -> SeriesSelector:
        match = _SELECTOR.fullmatch(text)
        if match is None:
            raise ValueError(_expected(text))
        labels: dict[str, str] = {}
        rest = match["labels"] or ""
        while rest.strip():
            label = _LABEL.match(rest)
            if label is None:
                raise ValueError(_expected(text))
            if label["key"] in labels:
                raise ValueError(f"label {label['key']!r} is given twice in {text!r}")
            labels[label["key"]] = re.sub(r"\\[\\\"n]", lambda m: _ESCAPES[m[0]], label["value"])
            rest = rest[label.end() :]
            if rest.strip() and not rest.lstrip().startswith(","):
                raise ValueError(_expected(text))
            rest = rest.lstrip().removeprefix(",")
        return cls(" ".join(text.split()), match["name"], tuple(sorted(labels.items())))


def _expected(text: str) -> str:
    return f'expected a series like name or name{{label="value"}}, got {text!r}'


def _series(value: Any) -> SeriesSelector:
    if isinstance(value, SeriesSelector):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError(
            "series", "expected a series name as text, got {got}", {"got": repr(value)}
        )
    try:
        return SeriesSelector.parse(value)
    except ValueError as exc:
        raise PydanticCustomError("series", "{message}", {"message": str(exc)}) from None


SeriesField = Annotated[
    SeriesSelector,
    PlainValidator(_series),
    PlainSerializer(lambda s: s.text, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": SERIES_PATTERN,
            "examples": ["jobs_queued", 'db_pool_in_use{pool="main"}'],
        }
    ),
]
