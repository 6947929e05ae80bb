"""Redaction of secrets from report text, URLs and JSON-like data."""

from __future__ import annotations

import time
from urllib.parse import quote, quote_plus

from sla_runner.redact import SEARCHED_MASKS, effective, masked, redact, redact_data, redact_url


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


def table_values(n: int) -> list[str]:
    """``n`` secrets as a data file gives them (an account and a password per row)."""
    return [f"user{i:05d}" for i in range(n // 2)] + [f"pw-{i:05d}-x" for i in range(n // 2)]


def test_many_secrets_mask_every_form_and_overlaps_as_one() -> None:
    secrets = [*table_values(4000), "abcd", "bcdefg", "a b&c"]
    assert len(effective(secrets)) > SEARCHED_MASKS
    text = 'user00007 pw-01999-x "user01999" xabcdefgy a+b%26c a%20b%26c done'
    assert redact(text, secrets) == '*** *** "***" x***y *** *** done'
    assert redact("nothing to hide", secrets) == "nothing to hide"


def test_masking_costs_the_same_for_thousands_of_secrets_as_for_a_few_dozen() -> None:
    texts = [f"GET /orders/{i} answered status 500 for user{i:05d}, p95 12ms" for i in range(300)]

    def seconds(masks: list[str]) -> float:
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            for text in texts:
                masked(text, masks)
            best = min(best, time.perf_counter() - started)
        return best

    few, many = effective(table_values(40)), effective(table_values(20000))
    assert masked(texts[7], many) == "GET /orders/7 answered status 500 for ***, p95 12ms"
    assert seconds(many) < 5 * seconds(few)  # one mask at a time: ~500x
