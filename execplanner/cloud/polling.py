"""How often a launch looks again at what it waits for (a server booting, a volume, a port answering).

Fast at first, because a simulated server or a small image is ready within a second or two and every pause past
that moment is time the user waits for nothing; then backing off, capped, because a real FedCloud VM takes tens
of seconds to minutes and a site's API should not be asked ten times a second all that while. With the defaults
a launch asks about 20 times in its first 2 s, then at 0.15, 0.23, 0.34 … s, at most every 2 s.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

FAST_PAUSE = 0.1  # s between looks while the wait is young
FAST_FOR = 2.0  # s the wait stays young
GROWTH = 1.5  # then each pause is this much longer than the one before
MAX_PAUSE = 2.0  # and never longer than this


def pauses(
    fast: float = FAST_PAUSE, fast_for: float = FAST_FOR, growth: float = GROWTH, cap: float = MAX_PAUSE
) -> Iterator[float]:
    """The pause before each next look, endlessly: `fast` for the first `fast_for` seconds, then growing."""
    started = time.monotonic()
    while time.monotonic() - started < fast_for:
        yield fast
    pause = fast
    while True:
        pause = min(pause * growth, cap)
        yield pause
