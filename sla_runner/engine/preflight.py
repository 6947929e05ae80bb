"""Checks made before any load starts: the run's first steps, once, with the real reasons.

For every HTTP origin the run will use (``target.base_url``, and each endpoint's own
``url:``) a TCP connection, with the TLS handshake for ``https`` (the spec's
``verify_tls``); for every channel the WebSocket upgrade a user makes. A failure is a
RunError naming what failed and the operating system's reason (connection refused, no
route to host, a name not resolved, timed out, the TLS alert). Descriptors: enough for the
peak load.
"""

from __future__ import annotations

import asyncio
import os
import resource
import socket
import ssl
from urllib.parse import urlsplit

from websockets.exceptions import InvalidHandshake, InvalidMessage, InvalidStatus

from sla_runner.engine.statics import static_channel, static_text
from sla_runner.engine.ws import RedirectBlockedError, WsChannel, compile_channel, opener
from sla_runner.engine.ws import tls_context as make_tls_context
from sla_runner.errors import RunError
from sla_runner.spec.convert import AnySpec, as_format2

FD_RESERVE = 64  # files, sockets and pipes the runner needs besides the load


async def check_target(spec: AnySpec) -> None:
    """Do once what every user will do first; raise RunError with the first step that fails.
    An endpoint's ``url:`` or a channel filled from a template per user is not checked."""
    spec = as_format2(spec)
    target = spec.target
    timeout_s = target.connect_timeout.seconds
    urls = [target.base_url]
    own = [static_text(ep.url) for ep in spec.endpoints.values() if ep.url is not None]
    urls += [url for url in own if url is not None]
    seen: set[tuple[str, str, int]] = set()
    tls: ssl.SSLContext | None = None
    for url in urls:
        parts = urlsplit(url)
        scheme, host = parts.scheme, parts.hostname or "127.0.0.1"
        origin = (scheme, host, parts.port or (443 if scheme == "https" else 80))
        if origin in seen:
            continue
        seen.add(origin)
        if scheme == "https" and tls is None:
            tls = make_tls_context(target.verify_tls)
        await check_reachable(url, timeout_s, tls if scheme == "https" else None)
    for name, channel in spec.channels.items():
        static = static_channel(channel)
        if static is not None:
            await check_channel(compile_channel(name, static, target))


async def check_reachable(url: str, timeout_s: float, tls: ssl.SSLContext | None = None) -> None:
    """Open (and close) one connection to ``url``'s host, with a TLS handshake when ``tls``
    is given, or raise 'cannot connect to …' with the reason of each address tried."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    where = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"  # never the credentials
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout_s):
            try:
                found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as exc:
                why = f"cannot resolve {host}: {reason(exc)}"
                raise RunError(f"cannot connect to {where}: {why}") from None
            failures: dict[str, list[str]] = {}
            for *_, address in found:
                ip = str(address[0])
                try:
                    transport, _ = await loop.create_connection(
                        asyncio.Protocol,
                        ip,
                        port,
                        ssl=tls,
                        server_hostname=host if tls is not None else None,
                    )
                except OSError as exc:  # ssl's errors too
                    failures.setdefault(reason(exc, tls=tls is not None), []).append(ip)
                    continue
                transport.abort()  # nothing to say to the service: no goodbye either
                return
    except TimeoutError:
        raise RunError(
            f"cannot connect to {where}: timed out (no answer within {timeout_s:g}s)"
        ) from None
    if len(failures) == 1:
        raise RunError(f"cannot connect to {where}: {next(iter(failures))}")
    tried = "; ".join(f"{why} ({', '.join(addresses)})" for why, addresses in failures.items())
    raise RunError(f"cannot connect to {where}: {tried}")


async def check_channel(ch: WsChannel) -> None:
    """Make the WebSocket upgrade one user makes to ``ch``, then close; RunError naming the
    channel and why the upgrade failed (an HTTP status, a connect or TLS failure…)."""
    url = _shown(ch.url)
    why: str | None = None
    try:
        connection = await opener(ch)
    except InvalidStatus as exc:
        why = f"the upgrade was refused: HTTP {exc.response.status_code}"
    except InvalidMessage:
        why = "the answer to the upgrade was not HTTP"
    except InvalidHandshake as exc:
        why = f"the upgrade failed: {exc}"
    except RedirectBlockedError as exc:
        why = f"{exc}, a host target.allowed_hosts does not name"
    except TimeoutError:
        why = f"timed out (no upgrade within {ch.timeout_s:g}s)"
    except OSError as exc:  # ssl's errors too
        why = reason(exc, tls=ch.tls is not None)
    else:
        await connection.close()
    if why is not None:
        raise RunError(f"channel {ch.name}: cannot open {url}: {why}")


def reason(exc: BaseException, *, tls: bool = False) -> str:
    """The operating system's (or the TLS library's) reason, as a phrase:
    ``connection refused``, ``no route to host``, ``TLS handshake failed: wrong version
    number``, ``TLS handshake failed: certificate verify failed: self-signed certificate``."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = exc.verify_message or exc.reason or str(exc)
        return (
            f"TLS handshake failed: certificate verify failed: {detail} "
            "(target.verify_tls: false skips the check)"
        )
    if isinstance(exc, ssl.SSLError):
        detail = (exc.reason or "").replace("_", " ").lower() or str(exc)
        return f"TLS handshake failed: {detail}"
    if isinstance(exc, socket.gaierror):
        return _phrase(exc.strerror or str(exc))
    text = str(exc)
    if isinstance(exc, OSError) and exc.errno:  # asyncio's "Connect call failed (…)" hides it
        text = _phrase(os.strerror(exc.errno))
    if tls and isinstance(exc, ConnectionResetError | ConnectionAbortedError | EOFError):
        return f"TLS handshake failed: {text}"
    return text or type(exc).__name__


def _phrase(text: str) -> str:
    """``Connection refused`` → ``connection refused``."""
    return text[:1].lower() + text[1:]


def _shown(url: str) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def ensure_descriptors(needed: int) -> None:
    """Raise the soft file-descriptor limit as far as needed, or refuse up front."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = needed + FD_RESERVE
    if want <= soft:
        return
    if hard == resource.RLIM_INFINITY or want <= hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        return
    raise RunError(
        f"the load needs about {want:,} open files (connections), but this process may open "
        f"at most {hard:,} (hard limit); raise it (e.g. `ulimit -n {want}`) or lower the users"
    )
