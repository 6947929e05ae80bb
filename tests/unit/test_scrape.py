"""Reading a scrape: prometheus_client's own exposition of a real registry, in the text
format and in OpenMetrics, picked by series selectors."""

from __future__ import annotations

import http.server
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

import anyio
import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest

from sla_runner.engine.collector import load_collections
from sla_runner.engine.http.httpx import classify
from sla_runner.engine.sources.scrape import Reading, SourceError, parse, scrape
from sla_runner.spec.series import SeriesSelector


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    pool = Gauge("db_pool_in_use", "in use", ["pool"], registry=registry)
    pool.labels(pool="main").set(3)
    pool.labels(pool="reports").set(11.5)
    done = Counter("jobs_processed", "done", ["kind"], registry=registry)
    done.labels(kind="a").inc(5)
    done.labels(kind="b").inc(2)
    latency = Histogram("req_seconds", "latency", buckets=(0.1, 1.0), registry=registry)
    latency.observe(0.05)
    latency.observe(0.5)
    return registry


@pytest.fixture(params=["text", "openmetrics"])
def exposition(request: pytest.FixtureRequest) -> tuple[str, str]:
    registry = _registry()
    if request.param == "text":
        return generate_latest(registry).decode(), "text/plain; version=0.0.4; charset=utf-8"
    text: bytes = openmetrics_latest(registry)  # type: ignore[no-untyped-call]
    return text.decode(), OPENMETRICS


@pytest.mark.parametrize(
    ("selector", "reading"),
    [
        ('db_pool_in_use{pool="main"}', Reading(3.0, counter=False)),
        ("db_pool_in_use", Reading(14.5, counter=False)),  # both pools: summed
        ('jobs_processed_total{kind="a"}', Reading(5.0, counter=True)),
        ("jobs_processed_total", Reading(7.0, counter=True)),
        ("jobs_processed", Reading(7.0, counter=True)),  # the counter named as its family
        ("req_seconds_count", Reading(2.0, counter=True)),
        ('req_seconds_bucket{le="0.1"}', Reading(1.0, counter=True)),
    ],
)
def test_a_selector_picks_its_samples_and_knows_a_counter(
    exposition: tuple[str, str], selector: str, reading: Reading
) -> None:
    text, content_type = exposition
    assert parse(text, content_type).pick(SeriesSelector.parse(selector)) == reading


def test_a_counters_created_timestamp_is_no_counter(exposition: tuple[str, str]) -> None:
    text, content_type = exposition
    created = parse(text, content_type).pick(SeriesSelector.parse("jobs_processed_created"))
    assert created is not None
    assert not created.counter


@pytest.mark.parametrize("selector", ['db_pool_in_use{pool="x"}', "jobs_queued", "jobs_done"])
def test_a_selector_without_samples_picks_nothing(
    exposition: tuple[str, str], selector: str
) -> None:
    text, content_type = exposition
    assert parse(text, content_type).pick(SeriesSelector.parse(selector)) is None


def test_text_that_is_no_exposition_is_refused() -> None:
    with pytest.raises(ValueError, match=r"(?i)invalid"):
        parse("<html>nope</html>\n", "text/plain")


@pytest.fixture
def resetting_port() -> Iterator[int]:
    """A listener that resets every connection as soon as it accepts it."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=128)

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # closed: the test is over
                return
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    listener.close()
    thread.join(timeout=5)


def test_a_connection_reset_as_it_opens_is_a_source_error_on_uvloop(resetting_port: int) -> None:
    """On uvloop, anyio may raise AttributeError for a connection the peer reset before
    httpcore asked for its socket (a source shutting down): that is the reset it is, never an
    exception that ends the run. Many tries: the race goes either way each time."""
    url = f"http://127.0.0.1:{resetting_port}/metrics"

    async def many() -> set[str]:
        reasons = set()
        async with httpx.AsyncClient(trust_env=False) as client:
            for _ in range(150):
                with pytest.raises(SourceError) as caught:
                    await scrape(client, url, 2.0)
                reasons.add(str(caught.value))
        return reasons

    assert anyio.run(many, backend_options={"use_uvloop": True}) == {"connection reset by peer"}


def test_anyios_attribute_error_for_a_closed_socket_is_that_reset_and_nothing_else() -> None:
    """The race above, made certain: the transport raises what anyio raises then. Any other
    AttributeError is a bug and is not hidden."""
    gone = AttributeError("'NoneType' object has no attribute 'getpeername'")

    async def scrape_raising(exc: Exception) -> str:
        def handler(request: httpx.Request) -> httpx.Response:
            raise exc

        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            try:
                await scrape(client, "http://127.0.0.1:9/metrics", 1.0)
            except SourceError as error:
                return str(error)
        return "answered"

    assert anyio.run(scrape_raising, gone) == "connection reset by peer"
    with pytest.raises(AttributeError, match="no attribute 'decode'"):
        anyio.run(scrape_raising, AttributeError("'int' object has no attribute 'decode'"))
    assert classify(gone).key == "reset"


def _big_exposition() -> str:
    """A service with 60 routes' request histograms: some 7,000 lines, as real ones are."""
    registry = CollectorRegistry()
    seconds = Histogram("http_request_seconds", "latency", ["method", "route"], registry=registry)
    for route in range(60):
        for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
            seconds.labels(method, f"/r{route}").observe(0.01)
    return generate_latest(registry).decode()


@pytest.fixture
def big_metrics_url() -> Iterator[str]:
    body = _big_exposition().encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_reading_a_large_exposition_never_holds_the_event_loop_for_its_parse(
    big_metrics_url: str,
) -> None:
    """The parse is pure Python (prometheus_client's parsers): tens of milliseconds for a
    real service's exposition, every interval. On the run's event loop it stalled the load
    and made the run invalid for loop lag; it runs beside the loop instead, which keeps
    answering (its longest stall well under the parse's time: a ratio a busy machine keeps)."""
    text = _big_exposition()
    parse_s = min(_timed(lambda: parse(text, "text/plain")) for _ in range(3))

    async def longest_stall() -> float:
        stalls = [0.0]
        done = anyio.Event()

        async def tick() -> None:
            while not done.is_set():
                before = time.perf_counter()
                await anyio.sleep(0.001)
                stalls.append(time.perf_counter() - before)

        with load_collections():  # the collector as the run has it: no full collection
            async with (
                httpx.AsyncClient(trust_env=False) as client,
                anyio.create_task_group() as tg,
            ):
                tg.start_soon(tick)
                for _ in range(3):
                    found = await scrape(client, big_metrics_url, 10.0)
                    selector = SeriesSelector.parse("http_request_seconds_count")
                    assert found.pick(selector) is not None
                done.set()
        return max(stalls)

    assert anyio.run(longest_stall) < parse_s / 2


def _timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started
