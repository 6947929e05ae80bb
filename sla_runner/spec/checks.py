"""Checks of a whole mapping, run on what can be read of it, so one round finds everything.

An endpoint needs exactly one of ``path`` or ``url``; the stages of a load share one model.
Such a check reads several fields, and Pydantic runs a model's checks only once every field
validated: a typo in ``method`` hid ``path: items``, a bad ``duration`` hid stages that mix
``users`` and ``rate``. Here a model states its checks once, as :meth:`CheckedModel.checks`
over a :class:`Fields` view. The model's own validator runs them on the validated model;
:func:`unchecked_problems` runs them on the raw mapping of every model that did not
validate, where a field that failed is :data:`UNREADABLE` and the checks that need it stay
quiet (its own error says what is wrong with it).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Self

from pydantic import BaseModel, TypeAdapter, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from sla_runner.spec.fields import FrozenModel

Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]  # (where, relative to the mapping checked; () for itself, message)


class _Unreadable:
    def __repr__(self) -> str:
        return "UNREADABLE"


UNREADABLE: Any = _Unreadable()  # a field that was written but did not validate


@dataclass(frozen=True)
class Fields:
    """What a check reads of one mapping, by field name (not alias)."""

    read: Callable[[str], Any]  # a field's validated value, its default, or UNREADABLE
    given: frozenset[str]  # fields written with a value other than null
    items: Mapping[str, list[Fields | None]] = field(default_factory=dict)  # lists of models

    def __getitem__(self, name: str) -> Any:
        return self.read(name)

    @classmethod
    def of_model(cls, model: BaseModel) -> Fields:
        values = {name: getattr(model, name) for name in type(model).model_fields}
        items: dict[str, list[Fields | None]] = {
            name: [cls.of_model(item) for item in value]
            for name, value in values.items()
            if isinstance(value, list) and value and isinstance(value[0], BaseModel)
        }
        given = frozenset(name for name, value in values.items() if value is not None)
        return cls(values.__getitem__, given, items)

    @classmethod
    def of_data(cls, model: type[BaseModel], data: Mapping[str, Any], bad: list[Loc]) -> Fields:
        """The view of ``data``, which did not validate as ``model``: ``bad`` holds the
        locations of its errors, relative to ``data``. Fields are validated when read."""
        fields = model.model_fields

        def read(name: str) -> Any:
            info = fields[name]
            key = info.alias or name
            if key not in data:
                if info.is_required():
                    return UNREADABLE
                return info.get_default(call_default_factory=True)
            if any(loc[:1] == (key,) for loc in bad):
                return UNREADABLE
            try:
                annotation: Any = info.rebuild_annotation()  # with its validators
                return TypeAdapter[Any](annotation).validate_python(data[key])
            except ValidationError:  # pragma: no cover - a field without errors validates
                return UNREADABLE

        given = frozenset(
            name for name, info in fields.items() if data.get(info.alias or name) is not None
        )
        items: dict[str, list[Fields | None]] = {}
        for name, info in fields.items():
            key, inner = info.alias or name, item_model(info.annotation)
            raw = data.get(key)
            if inner is not None and isinstance(raw, list):
                items[name] = [
                    cls.of_data(inner, item, under(bad, (key, i)))
                    if isinstance(item, dict)
                    else None
                    for i, item in enumerate(raw)
                ]
        return cls(read, given, items)


def under(locs: list[Loc], prefix: Loc) -> list[Loc]:
    """The locations inside ``prefix``, relative to it."""
    return [loc[len(prefix) :] for loc in locs if loc[: len(prefix)] == prefix]


class CheckedModel(FrozenModel):
    """A spec model with checks that read more than one field."""

    @classmethod
    def checks(cls, fields: Fields) -> list[Problem]:  # pragma: no cover - overridden
        return []

    @model_validator(mode="after")
    def _checked(self) -> Self:
        problems = type(self).checks(Fields.of_model(self))
        if problems:
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [
                    InitErrorDetails(
                        type=PydanticCustomError("check", "{message}", {"message": message}),
                        loc=loc,
                        input=self,
                    )
                    for loc, message in problems
                ],
            )
        return self


def unwrap(annotation: Any) -> Any:
    """Strip Annotated and Optional; return the core type."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _model(annotation: Any) -> type[BaseModel] | None:
    core = unwrap(annotation)
    return core if isinstance(core, type) and issubclass(core, BaseModel) else None


def item_model(annotation: Any) -> type[BaseModel] | None:
    """The model of each item of a ``list[Model]`` field."""
    core = unwrap(annotation)
    if typing.get_origin(core) is list:
        return _model(typing.get_args(core)[0])
    return None


def _children(model: type[BaseModel], data: Mapping[str, Any]) -> Iterator[tuple[Any, Any, Loc]]:
    """(model, raw data, location) of each mapping inside ``data`` that a model validates."""
    for name, info in model.model_fields.items():
        key = info.alias or name
        raw = data.get(key)
        core = unwrap(info.annotation)
        origin, args = typing.get_origin(core), typing.get_args(core)
        if _model(core) is not None:
            yield _model(core), raw, (key,)
        elif origin is list and _model(args[0]) is not None and isinstance(raw, list):
            yield from ((_model(args[0]), v, (key, i)) for i, v in enumerate(raw))
        elif origin is dict and _model(args[1]) is not None and isinstance(raw, dict):
            yield from ((_model(args[1]), v, (key, k)) for k, v in raw.items())


def unchecked_problems(model: type[BaseModel], data: Any, errors: list[Loc]) -> list[Problem]:
    """The checks of every mapping in ``data`` whose fields did not all validate (``errors``
    are the locations of every error), run on what can be read of it."""
    if not isinstance(data, dict):
        return []
    mine = [loc for loc in errors if loc[-1:] != ("[key]",)]  # a dict key is not its value
    problems: list[Problem] = []
    if issubclass(model, CheckedModel) and any(len(loc) > 0 for loc in mine):
        # A field failed, so the model's own validator never ran its checks.
        view = Fields.of_data(model, data, mine)
        problems += model.checks(view)
    for child, raw, where in _children(model, data):
        below = under(errors, where)
        problems += [((*where, *loc), m) for loc, m in unchecked_problems(child, raw, below)]
    return problems
