"""``sla-runner capacity``: the highest load one scenario holds every threshold at.

- :mod:`.search` decides which level to measure next (a coarse ramp, then bisection): pure,
  driven by a ``measure(level) -> StepResult`` callable;
- :mod:`.knee` finds where the p95 latency starts to grow with the load: pure;
- :mod:`.document` is the ``sla-runner/capacity`` document (format, model, JSON Schema);
- :mod:`.outcome` turns a search into that document, with its exit code: pure;
- :mod:`.junit` writes the JUnit XML of a capacity search;
- :mod:`.measure` measures one level: the spec run at that level through the public run path.
"""
