"""Format 2's templates and JSON paths, checked against the spec before anything runs.

Where templates go (:func:`sites`): an endpoint's ``path``, ``url``, ``query`` values,
``headers`` values, the string leaves of ``json`` and ``body``; a channel's ``path``, ``url``,
``headers`` values and ``send`` (text, or the string leaves of JSON). Anywhere else a
``{{ }}`` is text; in ``target.base_url`` and ``target.headers`` one is refused, since they
hold for every request of the run.

What a template names must exist: a variable some endpoint ``extract``s, a ``TABLE.COLUMN``
of a declared table (its columns known once loaded). And it must have a value wherever the
endpoint (or channel) is used (:func:`uses`), in this order: ``before`` (once per run, no
user: no rows, no ``$user``/``$pass``), then per user ``setup`` (the tables it deals ``user``
only: ``pass`` rows are dealt before each pass), the channels (held for the user's
lifetime: ``user`` tables), then the ``flow`` step by step (a value extracted by a later
step is not available to an earlier one, not even on the next pass: a first pass could
not have it), or a ``mix`` (what ``before`` and ``setup`` extract). A step, channel or table
whose name is misspelt stands for the one its error suggests (:meth:`View.meant
<sla_runner.spec.crossref2.View.meant>`). Every problem is a
:class:`~sla_runner.spec.crossref2.Finding` with the offset of the name in its string.

JSON paths (``expect.json`` keys, ``extract`` ``json``) and ``extract`` regexes are checked
here too, with offsets: format 2 reads paths strictly (:func:`sla_runner.spec.jsonpath.parse_path`),
also in channels (format 1's channels read them as they always did).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from sla_runner.spec.capacity2 import capacity_findings
from sla_runner.spec.checks import Loc
from sla_runner.spec.crossref2 import Finding, StepRef, View, read, reference_findings, unknown
from sla_runner.spec.data import DataError, load_table
from sla_runner.spec.jsonpath import JsonPathError, parse_path
from sla_runner.spec.reach import users_out_of_reach_v2
from sla_runner.spec.rules2 import threshold_findings
from sla_runner.spec.suggest import did_you_mean
from sla_runner.spec.templates import Ref, TemplateError, parse_template
from sla_runner.spec.yamlbuild import format_path

_ENDPOINT_TEXT = ("path", "url", "body")
_CHANNEL_TEXT = ("path", "url")
_NO_USER = ("user", "pass")  # built-ins without a value outside a user


def scan_template(text: str) -> tuple[tuple[Ref, ...], tuple[TemplateError, ...]]:
    """Every ref and every error of ``text`` (offsets into ``text``), for a loader that
    reports all problems at once: after an error the scan goes on after that ``{{ ... }}``
    (an unclosed ``{{`` ends it). :func:`parse_template` stops at the first error."""
    refs: list[Ref] = []
    errors: list[TemplateError] = []
    start = 0
    while True:
        rest = text[start:]
        try:
            found = parse_template(rest)
        except TemplateError as exc:
            errors.append(TemplateError(exc.message, start + exc.offset))
            # The block that failed opens at the error (unclosed) or just before its name.
            opened = (
                exc.offset if rest.startswith("{{", exc.offset) else rest.rfind("{{", 0, exc.offset)
            )
            head = parse_template(rest[:opened])  # parsed before: it cannot fail
            refs.extend(replace_offset(r, start) for r in head.refs)
            close = rest.find("}}", opened + 2)
            if rest.startswith("{{", exc.offset) or close < 0:
                return tuple(refs), tuple(errors)  # unclosed: nothing after it is a template
            start += close + 2
            continue
        refs.extend(replace_offset(r, start) for r in found.refs)
        return tuple(refs), tuple(errors)


def replace_offset(ref: Ref, shift: int) -> Ref:
    """``ref`` with its offset moved by ``shift`` (a ref of a slice of a longer text)."""
    return Ref(ref.kind, ref.name, ref.column, ref.args, ref.offset + shift)


def _leaves(value: Any, at: Loc) -> Iterator[tuple[Loc, str]]:
    if isinstance(value, str):
        yield at, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*at, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _leaves(item, (*at, i))


def sites(kind: str, raw: Mapping[str, Any]) -> Iterator[tuple[Loc, str]]:
    """Each template of an endpoint (``kind`` ``endpoints``) or a channel (``channels``):
    its place, relative to the mapping, and its text."""
    for key in _ENDPOINT_TEXT if kind == "endpoints" else _CHANNEL_TEXT:
        if isinstance(raw.get(key), str):
            yield (key,), raw[key]
    for key in ("query", "headers") if kind == "endpoints" else ("headers",):
        values = raw.get(key)
        for name, value in values.items() if isinstance(values, dict) else ():
            if isinstance(value, str):
                yield (key, name), value
    body = "json" if kind == "endpoints" else "send"
    if raw.get(body) is not None:
        yield from _leaves(raw[body], (body,))


def map_sites(kind: str, raw: Mapping[str, Any], change: Callable[[str], str]) -> dict[str, Any]:
    """A copy of an endpoint's or channel's mapping with ``change`` applied to each template
    (:func:`sites`): e.g. :func:`~sla_runner.spec.templates.escape` to keep text as it is."""
    out: dict[str, Any] = dict(raw)
    for rel, text in list(sites(kind, raw)):
        node: Any = out
        for part in rel[:-1]:
            copied = dict(node[part]) if isinstance(node[part], dict) else list(node[part])
            node[part] = copied
            node = copied
        node[rel[-1]] = change(text)
    return out


@dataclass(frozen=True)
class Use:
    """One place an endpoint or channel is used, and what a template has there."""

    where: str  # scenarios.shoppers.flow[1], before[0], …
    scenario: str | None
    variables: frozenset[str]  # extracted before this point
    later: Mapping[str, str]  # variable → the later step of this flow that extracts it
    tables: Mapping[str, str | None]  # table → user | pass (None: unreadable) dealt here
    modes: frozenset[str]  # the modes dealt by this point: {user}, {user, pass}, or none
    channel: bool = False


def _label(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def uses(view: View) -> dict[tuple[str, str], list[Use]]:
    """(``endpoints`` or ``channels``, name) → every place it is used."""
    found: dict[tuple[str, str], list[Use]] = {}

    def run(steps: tuple[StepRef, ...], base: Use, *, flow: bool = False) -> frozenset[str]:
        """Record each step's use; the variables extracted once every step ran."""
        have = set(base.variables)
        meant = [view.meant("endpoint", step.request) for step in steps]
        for i, (step, name) in enumerate(zip(steps, meant, strict=True)):
            if name is None:
                continue
            later = {
                v: f"{_label(s.loc)} ({m})"
                for s, m in reversed(list(zip(steps, meant, strict=True))[i:])
                if m and flow
                for v in view.extracts.get(m, ())
            }
            use = Use(
                _label(step.loc), base.scenario, frozenset(have), later, base.tables, base.modes
            )
            found.setdefault(("endpoints", name), []).append(use)
            have |= set(view.extracts.get(name, ()))
        return frozenset(have)

    before = run(view.before, Use("before", None, frozenset(), {}, {}, frozenset()))
    user, both = frozenset({"user"}), frozenset({"user", "pass"})
    for s in view.scenarios.values():
        at = f"scenarios.{s.name}"
        dealt = view.deals(s)
        ready = run(s.setup, Use(f"{at}.setup", s.name, before, {}, dealt, user))
        for name, loc in view.holds(s):
            found.setdefault(("channels", name), []).append(
                Use(_label(loc), s.name, ready, {}, dealt, user, channel=True)
            )
        if s.flow is not None:
            run(s.flow, Use(f"{at}.flow", s.name, ready, {}, dealt, both), flow=True)
        for name in filter(None, (view.meant("endpoint", name) for name in s.mix or {})):
            found.setdefault(("endpoints", name), []).append(
                Use(f"{at}.mix", s.name, ready, {}, dealt, both)
            )
    return found


def _static(view: View, ref: Ref) -> str | None:
    """What is wrong with a name wherever it is used, or None."""
    every = sorted({v for names in view.extracts.values() for v in names})
    if ref.kind == "var" and ref.name not in every:
        if ref.name in view.tables:
            columns = view.tables[ref.name]
            example = columns[0] if columns else "COLUMN"
            return f"{ref.name} is a data table; name a column: {{{{ {ref.name}.{example} }}}}"
        extracted = ", ".join(every) or "nothing"
        return f"no endpoint extracts {ref.name}; extracted: {extracted}" + did_you_mean(
            ref.name, every
        )
    if ref.kind == "column":
        if ref.name not in view.tables:
            return unknown("data table", ref.name, list(view.tables))
        columns = view.tables[ref.name]
        if columns is not None and ref.column not in columns:
            return (
                f"table {ref.name} has no column {ref.column!r}; columns: "
                + ", ".join(columns)
                + did_you_mean(ref.column or "", columns)
            )
    return None


def _in_use(view: View, ref: Ref, use: Use, owner: str) -> str | None:
    """What is wrong with a name at one place it is used, or None. The problem comes
    first, then (after ';') the place and what to do: the place depends on the rest of
    the spec, the problem does not."""
    sent = "holds" if use.channel else "sends"
    if use.scenario is None and (ref.kind == "column" or ref.name in _NO_USER):
        what = "no row is dealt" if ref.kind == "column" else "it has no value"
        return f"{what} in before; {use.where} runs once per run, outside any user"
    if ref.kind == "var" and ref.name not in use.variables:
        if ref.name in use.later:
            return (
                f"used before the step that extracts it; {use.where} sends {owner}, and "
                f"{use.later[ref.name]} extracts it later: a value is not available to an "
                "earlier step, not even on the next pass"
            )
        makers = ", ".join(sorted(e for e, names in view.extracts.items() if ref.name in names))
        return (
            f"no step before this use extracts {ref.name}; {use.where} {sent} {owner} "
            f"({makers} extracts it: send it in before, or earlier in this scenario)"
        )
    if ref.kind == "column" and ref.name in view.tables:
        if ref.name not in use.tables:
            return (
                f"no row of {ref.name} is dealt here; scenario {use.scenario} {sent} {owner} "
                f"({use.where}): add data: {{{ref.name}: user}}"
            )
        if use.tables[ref.name] == "pass" and "pass" not in use.modes:
            when = (
                "is held for the user's lifetime" if use.channel else "runs before the first pass"
            )
            return (
                f"{ref.name} is dealt per pass; {use.where} {when}: deal it per user "
                f"(data: {{{ref.name}: user}})"
            )
    return None


def template_findings(view: View) -> list[Finding]:
    """Every problem of every template, at its offset."""
    found: list[Finding] = []
    used = uses(view)
    for kind in ("endpoints", "channels"):
        declared = view.endpoints if kind == "endpoints" else view.channels
        for name, raw in declared.items():
            for rel, text in sites(kind, raw):
                loc = (kind, name, *rel)
                refs, errors = scan_template(text)
                found += [Finding(loc, e.message, e.offset) for e in errors]
                for ref in refs:
                    problem = _static(view, ref)
                    if problem is not None:
                        found.append(Finding(loc, f"{{{{ {ref.text} }}}}: {problem}", ref.offset))
                        continue
                    for use in used.get((kind, name), []):
                        problem = _in_use(view, ref, use, name)
                        if problem is not None:
                            found.append(
                                Finding(loc, f"{{{{ {ref.text} }}}}: {problem}", ref.offset)
                            )
    found += _not_filled(view)
    return list(dict.fromkeys(found))


def _not_filled(view: View) -> list[Finding]:
    """A template where none is filled: the target (it holds for every request) and the
    checks (compared as written)."""
    places: list[tuple[Loc, str, str]] = []
    target = view.data.get("target")
    if isinstance(target, dict):
        fixed = {"url": target.get("base_url"), "headers": target.get("headers")}
        for rel, text in sites("channels", fixed):
            loc = ("target", "base_url") if rel == ("url",) else ("target", *rel)
            why = "which holds for every request of the run; write it on the endpoints"
            places.append((loc, text, f"target.{loc[1]}, {why}"))
    for kind in ("endpoints", "channels"):
        for name, raw in (view.endpoints if kind == "endpoints" else view.channels).items():
            expect = raw.get("expect")
            if not isinstance(expect, dict):
                continue
            for key in ("json", "body_contains", "contains"):
                for rel, text in _leaves(expect.get(key), ("expect", key)):
                    why = "which is compared as written (a check holds no templates)"
                    places.append(((kind, name, *rel), text, f"{kind}.{name}.expect, {why}"))
    return [
        Finding(loc, f"{{{{ {ref.text} }}}}: templates are not filled in {where}", ref.offset)
        for loc, text, where in places
        for ref in scan_template(text)[0]
    ]


def path_findings(view: View) -> list[Finding]:
    """Every JSON path and regex of ``expect.json`` and ``extract`` that does not parse."""
    found: list[Finding] = []
    for kind in ("endpoints", "channels"):
        declared = view.endpoints if kind == "endpoints" else view.channels
        for name, raw in declared.items():
            expect = raw.get("expect")
            fields = expect.get("json") if isinstance(expect, dict) else None
            for path in fields if isinstance(fields, dict) else ():
                try:
                    parse_path(path)
                except JsonPathError as exc:
                    loc = (kind, name, "expect", "json", path, "[key]")
                    found.append(Finding(loc, exc.message, exc.offset))
    for name, raw in view.endpoints.items():
        extract = raw.get("extract")
        for var, spec in extract.items() if isinstance(extract, dict) else ():
            at: Loc = ("endpoints", name, "extract", var)
            if isinstance(spec, dict) and isinstance(spec.get("json"), str):
                try:
                    parse_path(spec["json"])
                except JsonPathError as exc:
                    found.append(Finding((*at, "json"), exc.message, exc.offset))
            if isinstance(spec, dict) and isinstance(spec.get("regex"), str):
                try:
                    re.compile(spec["regex"])
                except re.error as exc:
                    found.append(Finding((*at, "regex"), f"bad regex: {exc.msg}", exc.pos))
    return found


def all_findings(view: View) -> list[Finding]:
    """Every problem across the spec: names, thresholds (and users they can never reach),
    templates, JSON paths."""
    found = [*reference_findings(view), *threshold_findings(view), *capacity_findings(view)]
    found += users_out_of_reach_v2(view)
    return [*found, *template_findings(view), *path_findings(view)]


def spec_problems(
    spec: BaseModel, columns: Mapping[str, tuple[str, ...]] | None = None
) -> list[str]:
    """The problems :func:`all_findings` finds in a valid model (a ``Spec``: taken as any
    model, so that ``Spec``'s own validator can call this without an import cycle), as
    ``path: message``;
    ``columns``: those of the tables read from files (the others are skipped)."""
    data = spec.model_dump(mode="json", by_alias=True, exclude_unset=True)
    known = {**inline_columns(data.get("data")), **(columns or {})}
    problems = []
    for finding in all_findings(read(data, [], known)):
        path = format_path(tuple(p for p in finding.loc if p != "[key]"))
        problems.append(f"{path}: {finding.message}" if path else finding.message)
    return problems


def inline_columns(data: Any) -> dict[str, tuple[str, ...]]:
    """The columns of each table written as inline rows (no file is read)."""
    out: dict[str, tuple[str, ...]] = {}
    tables = data if isinstance(data, dict) else {}
    for name, table in tables.items():
        if isinstance(table, dict) and isinstance(table.get("rows"), list):
            try:
                out[name] = load_table(name, rows=table["rows"]).columns
            except DataError:
                continue
    return out
