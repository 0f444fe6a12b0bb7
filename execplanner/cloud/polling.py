"""How often a launch looks again at what it waits for (a server booting, a volume, a port answering).

Fast at first, because a simulated server or a small image is ready within a second or two and every pause past
that moment is time the user waits for nothing; then backing off, capped, because a real FedCloud VM takes tens
of seconds to minutes and a site's API should not be asked ten times a second all that while. With the defaults
a launch asks about 20 times in its first 2 s, then after 0.15, 0.23, 0.34 s and then every 0.5 s (the
`cloud_poll_max` setting; the driver passes it as `cap`).

The cap decides how late a launch notices that its server became ACTIVE: on average half the cap, at worst all
of it, and this lateness is most of the service's overhead beyond a real boot (issue #11: ≤ 1 s, median and p95).
With a 2 s cap a 20 s boot was noticed 1 s late on average and the overhead was 1.5–1.8 s (bench/launch.py); at
0.5 s the lateness is 0.25 s on average, under 0.5 s always. The price is requests: one `GET /servers/{id}` per
building server every 0.5 s, 2 a second, about 60 for a 20 s boot and 140 for a 60 s one (36 and 56 with the
2 s cap). That is more than the usual clients ask: `openstack server create --wait` (python-openstackclient
10.3, osc-lib 4.7 `wait_for_status`) looks every 5 s and openstacksdk's `wait_for_server` every 2 s, both
scripts a user waits on in a terminal; a GET of one server is Nova's cheapest call, answered from its database,
and a site sees this rate only for each of our servers still in BUILD (docs/operator.md, "How often").
"""

from __future__ import annotations

import time
from collections.abc import Iterator

FAST_PAUSE = 0.1  # s between looks while the wait is young
FAST_FOR = 2.0  # s the wait stays young
GROWTH = 1.5  # then each pause is this much longer than the one before
MAX_PAUSE = 0.5  # and never longer than this: how late an ACTIVE server is noticed at worst


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
