"""`run`'s options that only mean something together, refused alone before any load."""

from __future__ import annotations

from pathlib import Path

import pytest

from sla_runner.cli import run
from tests.unit.spec.helpers import VALID


@pytest.mark.parametrize(
    ("given", "named"),
    [
        (["--tolerance", "10%"], "--tolerance"),
        (["--noise-floor", "2ms", "--allow-spec-change"], "--noise-floor, --allow-spec-change"),
    ],
)
def test_comparison_options_without_a_baseline_are_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], given: list[str], named: str
) -> None:
    """They set how the run is compared with --baseline; without one they would be
    dropped in silence, and the user would believe the run was compared."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(VALID.replace("127.0.0.1:8000", "127.0.0.1:9"), encoding="utf-8")
    assert run(["run", str(spec), *given]) == 2  # not 3: nothing was tried
    assert capsys.readouterr().err == (
        f"error: {named}: only with --baseline VERDICT (how the run is compared with it)\n"
    )
