"""The demo service's command-line values, checked where they are parsed (no aiohttp here:
``sla-runner --help`` must not pay for importing the service)."""

from __future__ import annotations

import argparse
import math

ERROR_RATE_HELP = "share of /api/flaky requests answered 500, from 0 to 1 (default: 0.01)"


def error_rate_arg(text: str) -> float:
    """``--error-rate``: the share of ``/api/flaky`` requests answered 500, from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a share from 0 to 1 (0.01 is 1%), got {text!r}")
    return value


def port_arg(text: str) -> int:
    """``--port``: a TCP port, 0 for any free one."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got {text!r}")
    return value
