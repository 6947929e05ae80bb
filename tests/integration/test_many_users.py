"""Many users with think time on one event loop (issue 15, scale up): a valid run, every
request the server answered counted once, the users held as planned. Sized for a busy
2-core machine: 1,000 users × 1 request a second for a few seconds."""

from __future__ import annotations

import uuid

import pytest

from sla_runner.engine.execute import execute
from sla_runner.judge.validity import judge_validity
from sla_runner.plan import build_plan
from tests.conftest import LiveServer
from tests.support.faultkit import count, engine_spec

pytestmark = pytest.mark.load

USERS = 1000


def test_a_thousand_thinking_users_give_a_valid_run_the_server_agrees_with(
    test_server: LiveServer,
) -> None:
    tag = uuid.uuid4().hex
    spec = engine_spec(
        test_server,
        "many-users",
        target={"base_url": test_server.url, "timeout": "5s"},
        endpoints={"ok": {"path": "/ok", "query": {"tag": tag}}},
        load={
            "stages": [
                {"name": "up", "duration": "1s", "users": USERS},
                {"name": "hold", "duration": "3s", "users": USERS},
            ],
            "think_time": "1s",
            "graceful_stop": "5s",
        },
    )
    recording = execute(spec, build_plan(spec), handle_signals=False)
    validity = judge_validity(recording)
    assert validity.valid, validity.reasons
    served = test_server.counts()[f"/ok?tag={tag}"]
    assert count(recording, "http") == served
    assert recording.select("http", "ok", None)[0].outcomes.keys() == {"ok"}
    rows = {row.second: row for row in recording.timeline}
    assert rows[1].users == rows[2].users == USERS
    # Each user sends about one request a second while held: 3 s of 1,000 users, less what
    # the server's answers (Python, on the other core at best) add to each cycle.
    held = sum(s.count for s in recording.select("http", None, 1))
    assert USERS * 3 * 0.6 < held <= USERS * 3 * 1.05
