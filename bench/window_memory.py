"""What keeping a histogram per second per endpoint costs: a 1-hour run of 20 endpoints
through the real Recorder (synthetic samples, no network), the memory the closed seconds
take, the size they add to a verdict, and the time their closing takes per second.

    .venv/bin/python -m bench.window_memory [--seconds 3600] [--endpoints 20] [--rate 100]

``--rate`` is each endpoint's requests per second; latencies are log-normal around 20 ms
(a wide spread: a few hundred distinct 3-digit buckets a second), 1% of requests fail.
"""

from __future__ import annotations

import argparse
import json
import random
import time
import tracemalloc

from sla_runner.metrics.recorder import Recorder
from sla_runner.plan import Segment, build_plan
from sla_runner.spec.format2 import Spec
from sla_runner.timeunits import NS_PER_S


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=3600)
    parser.add_argument("--endpoints", type=int, default=20)
    parser.add_argument("--rate", type=int, default=100, help="per endpoint, per second")
    args = parser.parse_args()
    names = [f"e{i:02d}" for i in range(args.endpoints)]
    spec = Spec.model_validate(
        {
            "version": 2,
            "name": "memory",
            "sla_version": "1",
            "target": {"base_url": "http://127.0.0.1:9"},
            "endpoints": {n: {"path": f"/{n}"} for n in names},
            "scenarios": {
                "s": {
                    "load": {"stages": [{"duration": f"{args.seconds}s", "users": 10}]},
                    "mix": dict.fromkeys(names, 1),
                }
            },
        }
    )
    rng = random.Random(12)
    recorder = Recorder(build_plan(spec, Segment()))
    sink = recorder.scenario(0)
    per_second = args.rate * len(names)
    step = NS_PER_S // per_second
    tracemalloc.start()
    started = time.process_time()
    for second in range(args.seconds):
        base = second * NS_PER_S
        for i in range(per_second):
            end = base + i * step
            latency = int(rng.lognormvariate(16.8, 0.6))  # ns: ~20 ms median
            key = "ok" if rng.random() > 0.01 else "status_500"
            sink.request("http", names[i % len(names)], key, latency, end - latency, end)
    cpu_s = time.process_time() - started
    recording = recorder.close(
        elapsed_ns=args.seconds * NS_PER_S, started_at=0.0, finished_at=0.0, aborted=False
    )
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    kept = recording.seconds.nbytes()
    keys = len(recording.seconds.series)
    written = len(json.dumps(recording.seconds.to_list()))
    figures = {
        "seconds": args.seconds,
        "endpoints": len(names),
        "requests": args.seconds * per_second,
        "seconds_kept_bytes": kept,
        "bytes_per_endpoint_second": round(kept / (keys * args.seconds)),
        "peak_traced_bytes": peak,
        "verdict_json_bytes_added": written,
        "recorder_cpu_s": round(cpu_s, 1),
    }
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
