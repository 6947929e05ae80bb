"""A real service that exposes its own figures with ``prometheus_client``, for the source tests.

``python -m tests.support.promservice`` serves, on 127.0.0.1:

- its API on one port: ``GET /work?cpu_ms=N`` spends N ms of CPU time (its own thread's, so
  a busy machine does not change how much) and counts the request in ``jobs_processed``
  (a counter); ``GET /grow?kb=N`` keeps N KiB more memory, touched so it is resident;
  ``GET /set?queue=N`` sets the gauge ``jobs_queued``; ``GET /metrics-off`` shuts the
  metrics port (it stops answering: connection refused); ``GET /pid`` its pid;
- its ``/metrics`` on another port: prometheus_client's exposition of its default registry
  (``process_resident_memory_bytes``, ``process_cpu_seconds_total`` from its process
  collector), plus ``jobs_queued``, ``db_pool_in_use{pool=...}`` and
  ``jobs_processed_total``, in the format the scraper's Accept header asks for (text or
  OpenMetrics, prometheus_client's ``choose_encoder``). ``GET /set?metrics_for=N`` (on the
  API port) shuts the metrics port after N more scrapes.

It prints ``<api port> <metrics port>`` once both listen, and stops when stdin closes.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from prometheus_client import REGISTRY, Counter, Gauge
from prometheus_client.exposition import choose_encoder

QUEUED = Gauge("jobs_queued", "jobs waiting")
POOL = Gauge("db_pool_in_use", "connections in use", ["pool"])
PROCESSED = Counter("jobs_processed", "jobs done")
KEPT: list[bytearray] = []
SCRAPES_LEFT: list[int] = []  # empty: no limit


class Metrics(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
        body = encoder(REGISTRY)
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if SCRAPES_LEFT:
            SCRAPES_LEFT[0] -= 1
            if SCRAPES_LEFT[0] <= 0:
                SCRAPES_LEFT.clear()
                threading.Thread(target=_metrics_off).start()

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return


def _metrics_off() -> None:
    server, Api.metrics_server = Api.metrics_server, None
    if server is not None:
        server.shutdown()
        server.server_close()


def _spend_cpu(ms: float) -> None:
    end = time.thread_time() + ms / 1000
    x = 0
    while time.thread_time() < end:
        x += 1


class Api(BaseHTTPRequestHandler):
    metrics_server: ThreadingHTTPServer | None = None

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/work":
            _spend_cpu(float(query.get("cpu_ms", "0")))
            PROCESSED.inc()
        elif parts.path == "/grow":
            block = bytearray(int(query.get("kb", "1024")) * 1024)
            block[::4096] = b"\x01" * len(block[::4096])  # every page touched: resident
            KEPT.append(block)
        elif parts.path == "/set" and "queue" in query:
            QUEUED.set(float(query["queue"]))
        elif parts.path == "/set" and "metrics_for" in query:
            SCRAPES_LEFT[:] = [int(query["metrics_for"])]
        elif parts.path == "/metrics-off":
            _metrics_off()
        body = f"{os.getpid()}\n".encode() if parts.path == "/pid" else b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return


def main() -> None:
    POOL.labels(pool="main").set(3)
    POOL.labels(pool="reports").set(11)
    metrics_server = Api.metrics_server = ThreadingHTTPServer(("127.0.0.1", 0), Metrics)
    metrics_server.daemon_threads = True
    threading.Thread(target=metrics_server.serve_forever, daemon=True).start()
    api = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    api.daemon_threads = True
    threading.Thread(target=api.serve_forever, daemon=True).start()
    print(api.server_address[1], metrics_server.server_address[1], flush=True)
    sys.stdin.read()  # until the test closes it


if __name__ == "__main__":
    main()
