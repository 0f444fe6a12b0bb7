"""Schedule arithmetic on typed instants and intervals (no text: reading and writing ISO 8601 is `formats/`)."""

from __future__ import annotations

from datetime import datetime

from execplanner.model.documents import Interval


def interval_end(interval: Interval) -> datetime:
    return interval.start + interval.duration
