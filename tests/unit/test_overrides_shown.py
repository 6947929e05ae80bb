"""How a --set override's value is shown in a verdict: never a credential."""

from __future__ import annotations

import pytest

from sla_runner.api import shown_override


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [
        ("load.stages[1].duration", "2s", "2s"),
        ("target.headers.Authorization", "Bearer abc123", "***"),
        ("endpoints.a.headers.X-Key", "k3y", "***"),
        ("endpoints.health.query.api_key", "QUERYSECRET9", "***"),
        ("endpoints.health.query.Token", "QUERYSECRET9", "***"),
        ("endpoints.health.path", "/health?token=PATHSECRET7&x=1", "/health?token=***&x=1"),
        ("target.base_url", "http://bob:pw123456@h:8080/api", "http://bob:***@h:8080/api"),
        ("not a path[", "whatever", "***"),
    ],
)
def test_overrides_never_show_credentials(key: str, value: str, shown: str) -> None:
    assert shown_override(key, value) == shown
