"""The library entry points: what the CLI calls, and what Python callers use directly."""

from __future__ import annotations

from sla_runner.spec.loader import LoadedSpec, load_spec, load_spec_text

__all__ = ["LoadedSpec", "load_spec", "load_spec_text"]
