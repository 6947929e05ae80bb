"""Setting the benchmark up: the Debian packages, Locust's own venv, the nginx target.

Everything installed here stays out of the project's dependencies: nginx and wrk come
from apt, Locust goes into ``bench/.venv`` (ignored by git, like every ``.venv/``).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench.common import LOOPBACK, ROOT, VENV_BIN, stop_process

BENCH_VENV = ROOT / "bench" / ".venv"
LOCUST = BENCH_VENV / "bin" / "locust"
BODY = b"sla-runner bench: a small static body served by nginx\n"

NGINX_CONF = """\
worker_processes 1;
worker_rlimit_nofile {files};
daemon off;
master_process off;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections {connections}; }}
http {{
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    default_type text/plain;
    server {{
        listen {host}:{port};
        root {work}/www;
        location = /nginx_status {{ stub_status; }}
    }}
}}
"""


def _apt_install(packages: list[str]) -> None:
    print(f"installing {' '.join(packages)} with apt-get", flush=True)
    subprocess.run(["apt-get", "update", "-q"], check=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", *packages],
        check=True,
        env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
    )


def ensure_installed() -> None:
    """nginx and wrk from Debian, Locust in ``bench/.venv``; each only if missing."""
    missing = [tool for tool in ("nginx", "wrk") if shutil.which(tool) is None]
    if missing:
        _apt_install(missing)
    if not LOCUST.exists():
        print(f"installing locust into {BENCH_VENV}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
        pip = BENCH_VENV / "bin" / "pip"
        subprocess.run([str(pip), "install", "-q", "locust"], check=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass
class Nginx:
    proc: subprocess.Popen[bytes]
    port: int
    polls: int = 0

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def requests_served(self) -> int:
        """nginx's own count of requests (stub_status), less these status requests."""
        with urllib.request.urlopen(f"{self.url}/nginx_status", timeout=5) as response:
            lines = response.read().decode().splitlines()
        self.polls += 1
        return int(lines[2].split()[2]) - self.polls

    def stop(self) -> None:
        stop_process(self.proc)


def start_nginx(work: Path, core: int | str, connections: int = 4096) -> Nginx:
    """nginx on ``core`` (or a taskset list like ``0,1``), one worker taking up to
    ``connections`` connections at once, on a free loopback port, serving ``/hello.txt``."""
    (work / "www").mkdir(parents=True, exist_ok=True)
    (work / "www" / "hello.txt").write_bytes(BODY)
    port = free_port()
    conf = work / "nginx.conf"
    text = NGINX_CONF.format(
        work=work, host=LOOPBACK, port=port, connections=connections, files=connections + 64
    )
    conf.write_text(text)
    proc = subprocess.Popen(
        ["taskset", "-c", str(core), "nginx", "-c", str(conf), "-p", str(work), "-e", "stderr"]
    )
    server = Nginx(proc, port)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            server.requests_served()
            return server
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"nginx did not start (see {work}/error.log)")


def _first_line(args: list[str]) -> str:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    out = (done.stdout or done.stderr).strip().splitlines()
    return out[0] if out else "?"


def versions() -> dict[str, str]:
    from importlib.metadata import version  # noqa: PLC0415

    commit = _first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = _first_line(["git", "-C", str(ROOT), "status", "--porcelain", "--", "sla_runner"])
    return {
        "python": sys.version.split()[0],
        "aiohttp": version("aiohttp"),
        "httpx": version("httpx"),
        "uvloop": version("uvloop"),
        "websockets": version("websockets"),
        "hdrhistogram": version("hdrhistogram"),
        "locust": _first_line([str(LOCUST), "--version"]).split()[1] if LOCUST.exists() else "-",
        "wrk": _first_line(["wrk", "-v"]).split()[1],
        "nginx": _first_line(["nginx", "-v"]).split("/")[-1],
        "sla-runner": commit + (" (engine modified)" if dirty != "?" else ""),
        "sla-runner-python": str(VENV_BIN / "python"),
    }
