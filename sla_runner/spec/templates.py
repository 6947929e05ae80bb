"""Templates ``{{ name }}`` of spec format 2: parsed once at load time, rendered per request.

Syntax (a leaf module: it imports nothing from sla_runner):

- ``{{ NAME }}`` is replaced by a value; spaces inside the braces are optional.
- ``NAME`` is one of
  - a variable extracted by an earlier step: an identifier (``token``, ``order_id``);
  - a column of the user's current row of a data table: ``TABLE.COLUMN``
    (``accounts.user``); table and column names are letters, digits, ``_`` and ``-``,
    not starting with a digit or ``-``;
  - a built-in: ``$user`` (the virtual user's number), ``$pass`` (this user's pass number),
    ``$uuid`` (a random version-4 UUID), ``$randint(a,b)`` (a random integer with
    a <= n <= b, both inclusive; a and b are integers, a <= b), ``$now_ms`` (the wall-clock
    time in milliseconds since the Unix epoch).
- ``{{{{`` is a literal ``{{`` (so ``{{{{ x }}`` renders as the text ``{{ x }}``). A ``}}``
  outside a template is literal text and needs no escape (JSON like ``{"a":{"b":1}}``
  stays as written).
- Errors (:class:`TemplateError`, with ``offset`` into the text so the loader can point at
  line:col): an unclosed ``{{``, an empty ``{{ }}``, a bad name, an unknown built-in, bad
  ``$randint`` arguments, arguments to a built-in that takes none.

Values become text (:func:`to_text`): strings as they are, anything else as compact JSON
(``3``, ``1.5``, ``true``, ``null``, ``{"a":1}``).

JSON bodies (:func:`parse_json_template`): every string leaf (not the keys) is a template.
A leaf that is exactly one ``{{ NAME }}`` takes the value with its own type: a number
extracted by a JSON path stays a number, an object an object; ``$user``, ``$pass``,
``$randint`` and ``$now_ms`` are numbers; ``$uuid`` and values from headers, cookies,
regexes and CSV files are strings; columns of ``.json``/``.jsonl`` tables keep their type.
Any other leaf (text around a template, or several) is text substitution: a string.

Rendering runs per request: each template is compiled once into one closure (a constant;
``prefix + get(state) + suffix`` for one value; a join of literals and getters for more);
``bench/templates.py`` measures ~0.45 µs for a quoted path with one variable, ~0.14 µs for
a header. ``quote=True`` percent-encodes each filled value (all but letters, digits and
``-._~``, so ``/`` too): the caller's choice for values put in a path or URL; query values
are encoded by whoever encodes the query, so they are rendered plain.

State (:class:`RenderState`): one per virtual user, updated in place by the engine
(``variables`` after extractions, ``rows`` when rows are dealt, ``pass_number``). Reading
a value nothing has set raises :class:`UnsetValueError` (the loader prevents it
statically; render never writes empty text instead). Randomness comes from the state's
``rng`` and time from its ``clock_ms``, both the engine's, so a seeded ``random.Random``
and a fixed clock make rendering deterministic.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote as _quote

BUILTINS = ("user", "pass", "uuid", "randint", "now_ms")
BUILTIN_HELP = "$user, $pass, $uuid, $randint(a,b), $now_ms"

_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_COLUMN = re.compile(r"(?P<table>[A-Za-z_][A-Za-z0-9_-]*)\.(?P<column>[A-Za-z_][A-Za-z0-9_-]*)")
_BUILTIN = re.compile(r"\$(?P<name>[A-Za-z_]\w*)\s*(?:\((?P<args>[^()]*)\))?")
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")  # what percent-encoding leaves as it is
_INT = re.compile(r"\s*(-?\d+)\s*")

RefKind = Literal["var", "column", "builtin"]
Getter = Callable[["RenderState"], Any]
Renderer = Callable[["RenderState"], str]
JsonPath = tuple[str | int, ...]


class TemplateError(ValueError):
    """A template that cannot be parsed.

    ``offset`` is where the problem starts in the template's text (0-based); ``path`` is
    where the text sits inside a JSON value (keys and list indices, empty for plain text).
    """

    def __init__(self, message: str, offset: int, path: JsonPath = ()) -> None:
        super().__init__(message)
        self.message, self.offset, self.path = message, offset, path


class UnsetValueError(LookupError):
    """A template read a value that nothing has set yet (a variable no step extracted, or a
    column of a table no row of which is dealt to this user)."""

    def __init__(self, ref: Ref) -> None:
        self.ref = ref
        if ref.kind == "var":
            message = f"{{{{ {ref.name} }}}} is used before any step set it"
        else:
            message = f"{{{{ {ref.text} }}}}: no row of table {ref.name} is dealt to this user"
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Ref:
    """One name a template reads. ``name`` is the variable, the table (kind ``column``, with
    ``column``) or the built-in without ``$``; ``offset`` is where it starts in the text."""

    kind: RefKind
    name: str
    column: str | None = None
    args: tuple[int, ...] = ()
    offset: int = 0

    @property
    def text(self) -> str:
        """The name as written: ``token``, ``accounts.user``, ``$randint(1,6)``."""
        if self.kind == "column":
            return f"{self.name}.{self.column}"
        if self.kind == "builtin":
            args = f"({','.join(map(str, self.args))})" if self.args else ""
            return f"${self.name}{args}"
        return self.name


@dataclass(slots=True)
class RenderState:
    """What templates read: one virtual user's values, updated in place by the engine."""

    user: int
    rng: random.Random
    clock_ms: Callable[[], int]
    pass_number: int = 0
    variables: dict[str, Any] = field(default_factory=dict)
    rows: dict[str, Mapping[str, Any]] = field(default_factory=dict)


def to_text(value: Any) -> str:
    """A value as template text: strings as they are, everything else as compact JSON."""
    if isinstance(value, str):
        return value
    if value.__class__ is int:  # not bool, a subclass of int
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class Template:
    """A parsed template. Immutable; share it between users."""

    __slots__ = ("_plain", "_quoted", "_value", "parts", "refs", "text")

    def __init__(self, text: str, parts: tuple[str | Ref, ...]) -> None:
        self.text = text
        self.parts = parts  # literal text and refs, in order; no two literals in a row
        self.refs = tuple(p for p in parts if isinstance(p, Ref))
        self._plain = _compile(parts, quote=False)
        self._quoted = _compile(parts, quote=True) if self.refs else self._plain
        self._value: Getter = _getter(self.refs[0]) if self.is_single else self._plain

    @property
    def is_static(self) -> bool:
        """True when the template reads nothing: it renders to the same text every time."""
        return not self.refs

    @property
    def is_single(self) -> bool:
        """True when the template is exactly one ``{{ NAME }}`` with no text around it."""
        return len(self.parts) == 1 and bool(self.refs)

    def renderer(self, *, quote: bool = False) -> Renderer:
        """The compiled render function (take it once, call it per request)."""
        return self._quoted if quote else self._plain

    def render(self, state: RenderState, *, quote: bool = False) -> str:
        """The text with every ``{{ NAME }}`` filled from ``state``; ``quote`` percent-encodes
        the filled values. Raises :class:`UnsetValueError` for a value nothing has set."""
        return (self._quoted if quote else self._plain)(state)

    def value(self, state: RenderState) -> Any:
        """For a single ``{{ NAME }}``: the value with its own type; otherwise the text."""
        return self._value(state)

    def __repr__(self) -> str:
        return f"Template({self.text!r})"


def parse_template(text: str) -> Template:
    """Parse ``text``; raises :class:`TemplateError` with the offset of the problem."""
    parts: list[str | Ref] = []
    literal: list[str] = []
    i = 0
    while True:
        j = text.find("{{", i)
        if j < 0:
            literal.append(text[i:])
            break
        if text.startswith("{{{{", j):
            literal.append(text[i:j] + "{{")
            i = j + 4
            continue
        literal.append(text[i:j])
        k = text.find("}}", j + 2)
        inner = text[j + 2 : k] if k >= 0 else ""
        if k < 0 or "{{" in inner:
            raise TemplateError("unclosed '{{': expected '}}' (write '{{{{' for a literal '{{')", j)
        start = j + 2 + len(inner) - len(inner.lstrip())
        if "".join(literal):
            parts.append("".join(literal))
        literal = []
        parts.append(_parse_name(inner.strip(), start))
        i = k + 2
    if "".join(literal):
        parts.append("".join(literal))
    return Template(text, tuple(parts))


def escape(text: str) -> str:
    """``text`` written as a template that renders to exactly ``text`` (``{{`` doubled)."""
    return text.replace("{{", "{{{{")


def _parse_name(name: str, offset: int) -> Ref:
    if not name:
        raise TemplateError(
            f"empty '{{{{ }}}}': expected a name such as token or {BUILTIN_HELP}", offset
        )
    if name.startswith("$"):
        return _parse_builtin(name, offset)
    if _VAR.fullmatch(name):
        return Ref("var", name, offset=offset)
    if match := _COLUMN.fullmatch(name):
        return Ref("column", match["table"], match["column"], offset=offset)
    raise TemplateError(
        f"bad name {name!r}: expected a variable (token), a data column (TABLE.COLUMN) or a "
        f"built-in ({BUILTIN_HELP})",
        offset,
    )


def _parse_builtin(name: str, offset: int) -> Ref:
    match = _BUILTIN.fullmatch(name)
    if match is None or match["name"] not in BUILTINS:
        shown = match["name"] if match else name[1:]
        raise TemplateError(f"unknown built-in ${shown}; expected one of {BUILTIN_HELP}", offset)
    builtin, args = match["name"], match["args"]
    if builtin != "randint":
        if args is not None:
            raise TemplateError(f"${builtin} takes no arguments", offset)
        return Ref("builtin", builtin, offset=offset)
    numbers = [_INT.fullmatch(a) for a in args.split(",")] if args is not None else []
    if len(numbers) != 2 or not all(numbers):
        got = f", got ({args})" if args is not None else ""
        raise TemplateError(f"$randint needs two integers: $randint(a,b){got}", offset)
    low, high = (int(m[1]) for m in numbers if m)
    if low > high:
        raise TemplateError(f"$randint({low},{high}): a must not be greater than b", offset)
    return Ref("builtin", "randint", args=(low, high), offset=offset)


def _getter(ref: Ref) -> Getter:
    """A function reading ``ref``'s value (with its own type) from a state."""
    if ref.kind == "var":
        name = ref.name

        def variable(state: RenderState) -> Any:
            try:
                return state.variables[name]
            except KeyError:
                raise UnsetValueError(ref) from None

        return variable
    if ref.kind == "column":
        table, column = ref.name, ref.column or ""

        def cell(state: RenderState) -> Any:
            try:
                return state.rows[table][column]
            except KeyError:
                raise UnsetValueError(ref) from None

        return cell
    if ref.name == "user":
        return lambda state: state.user
    if ref.name == "pass":
        return lambda state: state.pass_number
    if ref.name == "now_ms":
        return lambda state: state.clock_ms()
    if ref.name == "randint":
        low, high = ref.args
        return lambda state: state.rng.randint(low, high)
    return lambda state: uuid4_text(state.rng)


def _text_getter(ref: Ref, quote: bool) -> Renderer:
    if ref.kind == "builtin" and ref.name in ("user", "pass"):
        # a number: its digits as text (compact JSON of an int), never percent-encoded
        if ref.name == "user":
            return lambda state: str(state.user)
        return lambda state: str(state.pass_number)
    if not quote and ref.kind == "var":
        name = ref.name

        def variable_text(state: RenderState) -> str:  # the getter inlined: a call less
            try:
                value = state.variables[name]
            except KeyError:
                raise UnsetValueError(ref) from None
            return value if value.__class__ is str else to_text(value)

        return variable_text
    if ref.kind == "var":
        name = ref.name

        def quoted_variable(state: RenderState) -> str:  # the getter inlined: a call less
            try:
                value = state.variables[name]
            except KeyError:
                raise UnsetValueError(ref) from None
            if value.__class__ is not str:
                value = str(value) if value.__class__ is int else to_text(value)
            return value if _UNRESERVED.fullmatch(value) else _quote(value, safe="")

        return quoted_variable
    get = _getter(ref)

    def text(state: RenderState) -> str:
        value = get(state)
        return value if value.__class__ is str else to_text(value)

    if not quote:
        return text

    def quoted(state: RenderState) -> str:  # text(), inlined: one call less per value
        value = get(state)
        if value.__class__ is not str:  # an int ($user, $pass, a number extracted) at once
            value = str(value) if value.__class__ is int else to_text(value)
        return value if _UNRESERVED.fullmatch(value) else _quote(value, safe="")

    return quoted


def _compile(parts: tuple[str | Ref, ...], *, quote: bool) -> Renderer:
    """One closure per template: the cheapest shape for the parts it has."""
    getters = [p if isinstance(p, str) else _text_getter(p, quote) for p in parts]
    dynamic = [g for g in getters if not isinstance(g, str)]
    if not dynamic:
        constant = "".join(p for p in parts if isinstance(p, str))
        return lambda state: constant
    if len(dynamic) == 1:
        get = dynamic[0]
        at = getters.index(get)
        prefix = "".join(p for p in getters[:at] if isinstance(p, str))
        suffix = "".join(p for p in getters[at + 1 :] if isinstance(p, str))
        return (lambda state: prefix + get(state) + suffix) if prefix or suffix else get
    pieces = tuple(getters)
    return lambda state: "".join([p if isinstance(p, str) else p(state) for p in pieces])


def uuid4_text(rng: random.Random) -> str:
    """A random version-4 UUID in its canonical text, from ``rng`` (no system entropy)."""
    bits = rng.getrandbits(128)
    bits = (bits & ~(0xF000 << 64)) | (0x4000 << 64)  # version 4
    bits = (bits & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class JsonTemplate:
    """A JSON value (from a spec's ``json:`` body or WebSocket ``send``) whose string leaves
    are templates. ``placed_refs`` pairs each ref with where its string sits in the value."""

    __slots__ = ("_render", "placed_refs", "value")

    def __init__(self, value: Any) -> None:
        self.value = value
        placed: list[tuple[JsonPath, Ref]] = []
        self._render = _getter_of(_compile_json(value, (), placed))
        self.placed_refs = tuple(placed)

    @property
    def refs(self) -> tuple[Ref, ...]:
        return tuple(ref for _, ref in self.placed_refs)

    @property
    def is_static(self) -> bool:
        return not self.placed_refs

    def render(self, state: RenderState) -> Any:
        """The JSON value with its templates filled. Static parts are shared between calls:
        do not mutate the result."""
        return self._render(state)

    def render_bytes(self, state: RenderState) -> bytes:
        """The filled value as compact JSON in UTF-8 (as a request body is sent)."""
        return json.dumps(self._render(state), separators=(",", ":")).encode()


def parse_json_template(value: Any) -> JsonTemplate:
    """Compile every string leaf of ``value``; a :class:`TemplateError` carries ``path``."""
    return JsonTemplate(value)


class _Constant:
    """A JSON subtree without templates: rendered once, at parse time."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _getter_of(part: Getter | _Constant) -> Getter:
    if isinstance(part, _Constant):
        constant = part.value
        return lambda state: constant
    return part


def _compile_json(
    value: Any, path: JsonPath, placed: list[tuple[JsonPath, Ref]]
) -> Getter | _Constant:
    if isinstance(value, str):
        try:
            template = parse_template(value)
        except TemplateError as exc:
            raise TemplateError(exc.message, exc.offset, path) from None
        placed.extend((path, ref) for ref in template.refs)
        if template.is_static:
            return _Constant("".join(p for p in template.parts if isinstance(p, str)))
        return template.value
    if isinstance(value, dict):
        items = [(k, _compile_json(v, (*path, k), placed)) for k, v in value.items()]
        if all(isinstance(part, _Constant) for _, part in items):
            return _Constant({k: part.value for k, part in items if isinstance(part, _Constant)})
        fields = [(k, _getter_of(part)) for k, part in items]
        return lambda state: {k: get(state) for k, get in fields}
    if isinstance(value, list):
        parts = [_compile_json(v, (*path, i), placed) for i, v in enumerate(value)]
        if all(isinstance(part, _Constant) for part in parts):
            return _Constant([part.value for part in parts if isinstance(part, _Constant)])
        getters = [_getter_of(part) for part in parts]
        return lambda state: [get(state) for get in getters]
    return _Constant(value)
