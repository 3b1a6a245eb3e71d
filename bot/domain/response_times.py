"""How fast staff answer: median and 90th percentile to the first answer, and long waits."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

# A message that waited longer than this for staff is counted as a long wait.
LONG_WAIT = timedelta(hours=24)


@dataclass(frozen=True)
class ResponseTimes:
    """Response times of one group of supporter messages (an arm, a campaign)."""

    messages: int  # supporter messages that needed an answer (opt-outs need none)
    answered: int  # of which staff answered
    median_seconds: float | None  # to the first staff answer, over the answered ones
    p90_seconds: float | None
    waited_over_day: int  # answered, closed or still waiting after more than LONG_WAIT
    still_waiting: int


def response_times(
    messages: Iterable[tuple[datetime, datetime | None, datetime | None]], *, now: datetime
) -> ResponseTimes:
    """Measure (received, first answered, closed without answer) triples as of now.

    A message's wait ends at its first staff answer, or when staff closed it (Done, Stop);
    one still open at `now` has waited until now.
    """
    count = 0
    seconds: list[float] = []
    long_waits = 0
    open_now = 0
    for received, answered, closed in messages:
        count += 1
        if answered is not None:
            seconds.append((answered - received).total_seconds())
        ended = answered or closed
        if ended is None:
            open_now += 1
        if (ended or now) - received > LONG_WAIT:
            long_waits += 1
    values = np.asarray(seconds, dtype=np.float64)
    return ResponseTimes(
        messages=count,
        answered=len(seconds),
        median_seconds=float(np.percentile(values, 50)) if seconds else None,
        p90_seconds=float(np.percentile(values, 90)) if seconds else None,
        waited_over_day=long_waits,
        still_waiting=open_now,
    )
