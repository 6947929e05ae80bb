"""One virtual user's state in a format-2 scenario: its values, data rows, randomness, cookies.

A :class:`UserState` is what a user's requests are rendered from (it *is* the templates'
:class:`~sla_runner.spec.templates.RenderState`: ``user``, ``pass_number``, ``variables``,
``rows``, ``rng``, ``clock_ms``) and what they send with: its own cookie jar when the spec
sets ``target.cookies`` (``None`` otherwise; :class:`~sla_runner.engine.cookies.CookieJar`,
the same on every engine, see :mod:`sla_runner.engine.http.session`).

The executors make users with :func:`new_user` and start each pass with :func:`next_pass`:

- ``new_user`` deals the scenario's ``user`` tables once (the kit's
  :class:`~sla_runner.spec.data.ScenarioDeal`) and copies what ``before`` extracted into the
  user's variables (each user has its own dict: a step's extraction never reaches another
  user, and a value ``before`` gave may be overwritten by the user's own extraction of the
  same name). It returns ``None`` when a ``unique`` table ran out: no user is started
  (the dealer counts the refusal).
- ``next_pass`` numbers the pass (``$pass``: 1 for the first) and deals the ``pass``
  tables; ``False`` when a ``unique`` table ran out: the user ends.

``rng`` may be shared by a scenario's users (the event loop is single-threaded); a seeded
one makes ``$uuid`` and ``$randint`` reproducible. ``clock_ms`` is ``$now_ms``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sla_runner.engine.cookies import CookieJar
from sla_runner.spec.data import ScenarioDeal
from sla_runner.spec.templates import RenderState

__all__ = ["UserState", "new_user", "next_pass", "wall_clock_ms"]


def wall_clock_ms() -> int:
    """Milliseconds since the Unix epoch (``$now_ms``)."""
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class UserState(RenderState):
    """One virtual user (see the module). ``deal``: the scenario's tables (``None``: it reads
    none); ``jar``: its cookies (``None``: the spec keeps none)."""

    deal: ScenarioDeal | None = None
    jar: CookieJar | None = None

    @property
    def uid(self) -> int:
        """The user's number (``$user``)."""
        return self.user


def new_user(
    uid: int,
    *,
    deal: ScenarioDeal | None = None,
    shared: Mapping[str, Any] | None = None,
    cookies: bool = False,
    rng: random.Random | None = None,
    clock_ms: Callable[[], int] = wall_clock_ms,
) -> UserState | None:
    """A new user numbered ``uid``, its ``user`` rows dealt, or ``None`` when a ``unique``
    table ran out. ``shared``: what ``before`` extracted; ``cookies``: ``target.cookies``."""
    state = UserState(
        user=uid,
        rng=rng if rng is not None else random.Random(),
        clock_ms=clock_ms,
        variables=dict(shared) if shared else {},
        deal=deal,
        jar=CookieJar() if cookies else None,
    )
    if deal is not None and not deal.deal_user(state.rows):
        return None
    return state


def next_pass(state: UserState) -> bool:
    """Start the user's next pass: number it and deal its ``pass`` rows. ``False`` (the
    user ends, its pass number unchanged) when a ``unique`` table ran out."""
    deal = state.deal
    if deal is not None and not deal.deal_pass(state.rows):
        return False
    state.pass_number += 1
    return True
