"""sla-runner: declarative YAML SLA specs, run as real load, judged into JUnit XML and JSON."""

__version__ = "0.1.0"

__all__ = ["__version__"]
