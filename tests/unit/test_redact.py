"""Redaction of secrets from report text, URLs and JSON-like data."""

from __future__ import annotations

from urllib.parse import quote, quote_plus

from sla_runner.redact import redact, redact_data, redact_url


def test_each_secret_is_masked_longest_first() -> None:
    assert redact("Bearer abcd1234 and abcd", ["abcd", "abcd1234"]) == "Bearer *** and ***"


def test_short_and_empty_values_are_not_treated_as_secrets() -> None:
    assert redact("port 8000 retries 3", ["", "3", "ab"]) == "port 8000 retries 3"


def test_urls_lose_passwords_and_credential_query_values() -> None:
    assert redact_url("https://bob:hunter22@h.example/x?token=t0k&page=2") == (
        "https://bob:***@h.example/x?token=***&page=2"
    )
    assert redact_url("https://ghp_abcdef@h.example/") == "https://***@h.example/"
    assert redact_url("http://127.0.0.1:8000") == "http://127.0.0.1:8000"


def test_a_secret_in_a_url_query_is_masked_in_every_form() -> None:
    """A secret interpolated into a non-credential query value keeps its raw form through
    redact_url (the other values are not re-encoded), and its encoded forms are masked too."""
    secret = "hunter2/with spaces&more"
    url = f"http://127.0.0.1:9/api?token=x&q={secret}&page=2"
    assert redact(redact_url(url), [secret]) == "http://127.0.0.1:9/api?token=***&q=***&page=2"
    for encoded in (quote(secret, safe=""), quote_plus(secret, safe="")):
        assert redact(f"GET /api?q={encoded}", [secret]) == "GET /api?q=***"
    assert redact_url("http://h/?Api%5FKey=abc&x=%41") == "http://h/?Api%5FKey=***&x=%41"


def test_data_is_redacted_but_histogram_encodings_are_kept() -> None:
    data = {"note": "key s3cret!", "s3cret!": 1, "hdr": "HISTFs3cret!", "rows": [{"x": "s3cret!"}]}
    assert redact_data(data, ["s3cret!"]) == {
        "note": "key ***",
        "***": 1,
        "hdr": "HISTFs3cret!",
        "rows": [{"x": "***"}],
    }
