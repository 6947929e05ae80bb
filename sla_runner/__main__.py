"""``python -m sla_runner``: the same as the ``sla-runner`` command."""

from sla_runner.cli import main

if __name__ == "__main__":
    main()
