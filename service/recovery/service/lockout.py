"""How long a sign-in waits after repeated failures: a minute once the limit is reached within
the hour, doubling with each further run of that many failures, at most an hour."""

from __future__ import annotations

import math
from datetime import datetime

__all__ = ["locked_for"]


def locked_for(failures: int, last: datetime | None, limit: int, now: datetime) -> int:
    """Whole seconds still to wait, given `failures` within the hour, the latest at `last`."""
    if failures < limit or last is None:
        return 0
    lock = min(60 * 2 ** (failures // limit - 1), 3600)
    return max(0, math.ceil(lock - (now - last).total_seconds()))
