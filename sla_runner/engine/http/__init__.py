"""HTTP for the engine: the seam, and three transports behind it.

The seam knows no implementation: ``outcome`` (how a request ended), ``request`` (compiled
requests, body scanning), ``redirects`` (the redirect policy), ``session`` (the protocols,
the hop session every transport implements, and the routing session: the one redirect loop
above the transports). The transports import only the seam: ``raw`` (with ``raw_wire``,
the default HTTP/1.1 hot path), ``aiohttp``, ``httpx`` (HTTP/2). The one place that picks a
transport is its user, :mod:`sla_runner.engine.transports`.
"""
