"""A format-2 endpoint's request, compiled once and filled per user: :func:`compile_endpoint`.

An endpoint whose fields hold no template compiles to one :class:`HttpRequest`, sent as is
by every user (the raw transport encodes it once), exactly as a version-1 endpoint. Any
other compiles to a :class:`RequestMaker`: the static parts joined and encoded once (the
base URL, literal text, the merged static headers, the static query pairs encoded, the
``Content-Type``), and per send only the templates filled from the user's state and the
request assembled (``fresh``: encoded for this send, never cached). An endpoint on the
target's origin gives its requests a :class:`~sla_runner.engine.http.request.WireShape`:
the raw transport builds their bytes from parts it encodes once, and per send encodes only
the path and query, the filled header values and a filled body's length.

Where a value goes decides how it is written:

- ``path``: each filled value percent-encoded (all but letters, digits and ``-._~``, so a
  value ``a/b`` stays one path segment); the literal text stays as written.
- ``url``: a value in the path, query or fragment (after the ``scheme://host`` part the
  literal text gives, or after a value that gave it) percent-encoded as in ``path``; a
  value before (the scheme, the host, a whole URL extracted from a ``Location`` header) as
  it is. ``user:password@`` in a filled URL becomes Basic auth, as in a written one.
- ``query`` values: form-encoded (``quote_plus``) whole, as version 1 encodes them.
- ``headers`` values and a text ``body``: as filled. A header value that a filled value
  gives a line break or NUL is never sent (a transport would refuse it, some quoting the
  value in their error): the step fails, naming the header only.
- ``json``: the kit's :class:`~sla_runner.spec.templates.JsonTemplate` (a leaf that is one
  ``{{ NAME }}`` keeps the value's type), compact JSON in UTF-8.

Rendering raises :class:`~sla_runner.spec.templates.UnsetValueError` for a value nothing has
set, and :class:`UnsendableError` for a header it cannot send: nothing is sent for either.
"""

from __future__ import annotations

import dataclasses
import functools
import random
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote_plus

from sla_runner.engine.http.request import (
    JSON_CONTENT_TYPE,
    TEXT_CONTENT_TYPE,
    HttpRequest,
    WireShape,
    fixed_fields,
    merge_headers,
    query_text,
    without_credentials,
)
from sla_runner.spec.format2 import EndpointV2, TargetV2
from sla_runner.spec.templates import (
    JsonTemplate,
    Ref,
    RenderState,
    Template,
    parse_json_template,
    parse_template,
)

__all__ = [
    "NOBODY",
    "RequestMaker",
    "UnsendableError",
    "compile_endpoint",
    "header_value",
    "joined",
    "literal",
    "url_text",
    "value_text",
]

Text = Callable[[RenderState], str]
NOBODY = RenderState(0, random.Random(0), lambda: 0)
"""The state a template that reads nothing is rendered with."""


class UnsendableError(ValueError):
    """A filled request that must not be sent; the message names the place, not the value."""


def literal(template: Template) -> str:
    """The literal text of ``template`` (its values left out)."""
    return "".join(p for p in template.parts if isinstance(p, str))


def value_text(ref: Ref, *, quote: bool) -> Text:
    """One value as text (``quote``: percent-encoded, as in a path)."""
    return parse_template(f"{{{{ {ref.text} }}}}").renderer(quote=quote)


def joined(pieces: list[str | Text]) -> Text:
    """One function filling ``pieces`` (literal text and value renderers) in order."""
    merged: list[str | Text] = []
    for piece in pieces:
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] += piece
        elif piece != "":
            merged.append(piece)
    dynamic = [p for p in merged if not isinstance(p, str)]
    if not dynamic:
        constant = "".join(p for p in merged if isinstance(p, str))
        return lambda state: constant
    if len(merged) == 1:
        return dynamic[0]
    if len(dynamic) == 1:
        at = merged.index(dynamic[0])
        prefix = "".join(p for p in merged[:at] if isinstance(p, str))
        suffix = "".join(p for p in merged[at + 1 :] if isinstance(p, str))
        get = dynamic[0]
        return lambda state: prefix + get(state) + suffix
    parts = tuple(merged)
    return lambda state: "".join([p if isinstance(p, str) else p(state) for p in parts])


def url_text(template: Template) -> Text:
    """A ``url`` template filled: values after the authority percent-encoded (see module)."""
    pieces: list[str | Text] = []
    written, in_path, after_value = "", False, False
    for part in template.parts:
        if isinstance(part, Ref):
            pieces.append(value_text(part, quote=in_path))
            after_value = True
            continue
        pieces.append(part)
        if in_path:
            continue
        written += part
        scheme = written.find("://")
        if scheme >= 0:
            in_path = any(c in written[scheme + 3 :] for c in "/?#")
        elif after_value:
            in_path = any(c in part for c in "/?#")
    return joined(pieces)


@dataclass(frozen=True, eq=False)
class RequestMaker:
    """Fills an endpoint's templates for one user: ``make(state)`` is the request to send.
    ``template`` is the request as compiled (its static parts; what it shows in place of a
    value is the template text), for what must be known before any user exists (the
    transport's preparation, the endpoint's name and expectations)."""

    template: HttpRequest
    url: Text
    credentials: bool  # the URL is filled where user:password@ may be: check each send
    query: tuple[tuple[str, Text | None], ...]  # key= and its value (None: encoded in the key)
    headers: tuple[tuple[str, str | Text], ...]
    body: Callable[[RenderState], bytes] | None
    shape: WireShape | None = None  # what its requests share, for a transport's encoding

    def make(self, state: RenderState) -> HttpRequest:
        url = self.url(state)
        if self.query:
            pairs = [k if v is None else k + quote_plus(v(state), safe="") for k, v in self.query]
            url += ("&" if "?" in url else "?") + "&".join(pairs)
        filled = self._fill_headers(state)
        if self.credentials:
            url, basic = without_credentials(url)
            if basic is not None and not any(n.lower() == "authorization" for n, _ in filled):
                filled += (("Authorization", basic),)
        template = self.template
        body = None if self.body is None else self.body(state)
        return HttpRequest(  # positional (the fields' order): a third cheaper than by name
            template.name,
            template.method,
            url,
            filled,
            body,
            template.timeout_s,
            template.expect_status,
            template.body_contains,
            template.http2,
            0,
            template.capture,
            True,
            self.shape,
        )

    @functools.cached_property
    def _fill_headers(self) -> Callable[[RenderState], tuple[tuple[str, str], ...]]:
        """The headers filled: one tuple for every send when none is filled per user; the
        common filled case, one header filled (``Authorization: Bearer {{ token }}``),
        without a loop."""
        headers = self.headers
        dynamic = [i for i, (_, value) in enumerate(headers) if not isinstance(value, str)]
        if not dynamic:
            constant = tuple((name, value) for name, value in headers if isinstance(value, str))
            return lambda state: constant
        if len(dynamic) == 1:
            at = dynamic[0]
            name, fill = headers[at]
            assert not isinstance(fill, str)
            before = tuple((n, v) for n, v in headers[:at] if isinstance(v, str))
            after = tuple((n, v) for n, v in headers[at + 1 :] if isinstance(v, str))

            def one(state: RenderState) -> tuple[tuple[str, str], ...]:
                value = fill(state)
                if "\r" in value or "\n" in value or "\0" in value:
                    header_value(name, value)  # raises, naming the header
                if before or after:
                    return (*before, (name, value), *after)
                return ((name, value),)

            return one

        def each(state: RenderState) -> tuple[tuple[str, str], ...]:
            return tuple(
                [
                    (name, value if isinstance(value, str) else header_value(name, value(state)))
                    for name, value in headers
                ]
            )

        return each


def header_value(name: str, value: str) -> str:
    """A filled header value, unless it holds a line break or NUL (:class:`UnsendableError`)."""
    if "\r" in value or "\n" in value or "\0" in value:  # three checks: no generator
        raise UnsendableError(f"header {name}: a filled value holds a line break or NUL; not sent")
    return value


def compile_endpoint(
    name: str, endpoint: EndpointV2, target: TargetV2, *, capture: int | None = None
) -> HttpRequest | RequestMaker:
    """The endpoint's request (it holds no template), or how to make it per user (see the
    module). ``capture``: keep the final response (``HttpRequest.capture``)."""
    headers: dict[str, tuple[str, str | Text]] = dict(merge_headers(target.headers).items())
    shown: dict[str, tuple[str, str]] = dict(merge_headers(target.headers))
    for key, text in endpoint.headers.items():
        header = parse_template(text)
        value = literal(header) if header.is_static else header.renderer()
        headers[key.lower()] = (key, value)
        shown[key.lower()] = (key, literal(header) if header.is_static else text)
    literal_url: str | None = None  # the URL's literal text, on the target's origin
    if endpoint.url is not None:
        written = parse_template(endpoint.url)
        url, shown_url, credentials = url_text(written), written.text, bool(written.refs)
        if not written.refs:  # a literal URL: its credentials taken once, here
            plain, basic = without_credentials(literal(written))
            url, shown_url = joined([plain]), plain
            _basic(headers, shown, basic)
    else:
        base, basic = without_credentials(target.base_url)
        _basic(headers, shown, basic)
        path = parse_template(endpoint.path or "/")
        pieces = [p if isinstance(p, str) else value_text(p, quote=True) for p in path.parts]
        url = joined([base, *pieces])  # one closure: base, literal text and values
        shown_url, credentials = base + path.text, False
        literal_url = base + literal(path)
    query: list[tuple[str, Text | None]] = []
    for key, given in endpoint.query.items():
        head = quote_plus(key, safe="") + "="
        written_value = parse_template(given) if isinstance(given, str) else None
        if written_value is None or written_value.is_static:
            text = query_text(given) if written_value is None else literal(written_value)
            query.append((head + quote_plus(text, safe=""), None))
        else:
            query.append((head, written_value.renderer()))
    body: Callable[[RenderState], bytes] | None = None
    static_body = True
    if endpoint.json_body is not None:
        json_template: JsonTemplate = parse_json_template(endpoint.json_body)
        body, static_body = json_template.render_bytes, json_template.is_static
        for table in (headers, shown):
            table.setdefault("content-type", JSON_CONTENT_TYPE)
    elif endpoint.body is not None:
        text_template = parse_template(endpoint.body)
        fill = text_template.renderer()
        body, static_body = (lambda state: fill(state).encode()), text_template.is_static
        for table in (headers, shown):
            table.setdefault("content-type", TEXT_CONTENT_TYPE)
    fixed = fixed_fields(endpoint, target)
    shown_request = HttpRequest(
        name, endpoint.method, shown_url, tuple(shown.values()), None, *fixed, capture=capture
    )
    shape: WireShape | None = None
    if literal_url is not None and not endpoint.http2:
        static_query = (key for key, value in query if value is None)  # the rest: "key="
        shape = WireShape(
            endpoint.method,
            literal_url + "?" + "&".join(static_query),
            tuple((n, v if isinstance(v, str) else None) for n, v in headers.values()),
            None if body is None else (True if not static_body else body(NOBODY)),
        )
    maker = RequestMaker(
        template=shown_request,
        url=url,
        credentials=credentials,
        query=tuple(query),
        headers=tuple(headers.values()),
        body=body,
        shape=shape,
    )
    static = (
        url_is_static(endpoint)
        and all(v is None for _, v in query)
        and all(isinstance(v, str) for _, v in maker.headers)
        and static_body
    )
    if not static:
        return maker
    # The endpoint's one request, made once: the raw transport caches its bytes.
    return dataclasses.replace(maker.make(NOBODY), fresh=False, shape=None)


def url_is_static(endpoint: EndpointV2) -> bool:
    written = endpoint.url if endpoint.url is not None else endpoint.path or "/"
    return parse_template(written).is_static


def _basic(
    headers: dict[str, tuple[str, str | Text]], shown: dict[str, tuple[str, str]], basic: str | None
) -> None:
    """Basic auth from a URL's ``user:password@``, unless the spec sets Authorization."""
    if basic is not None:
        headers.setdefault("authorization", ("Authorization", basic))
        shown.setdefault("authorization", ("Authorization", basic))
