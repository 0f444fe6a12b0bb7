"""Capacity as plain data: what a hold takes from a site's quota, and over which interval.

A hold is what one offer or session keeps of one site's quota for one VO, from the start of its `preparing`
block to the end of its `releasing` block. Offers of one offer set are mutually exclusive, so holds that share
a `group` (their offer set) count, at each instant, only as much as the largest of them there.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True)
class Usage:
    """Amounts of one site/VO quota: VMs, cores, RAM, floating IPs, GPUs, block-storage volumes and GiB."""

    instances: int = 0
    cores: int = 0
    memory_mib: int = 0
    floating_ips: int = 0
    gpus: int = 0
    volumes: int = 0
    gigabytes: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(*(a + b for a, b in zip(self.amounts(), other.amounts(), strict=True)))

    def __sub__(self, other: Usage) -> Usage:
        return Usage(*(a - b for a, b in zip(self.amounts(), other.amounts(), strict=True)))

    def __neg__(self) -> Usage:
        return Usage(*(-a for a in self.amounts()))

    def larger(self, other: Usage) -> Usage:
        """The componentwise maximum: what covers either one of two mutually exclusive needs."""
        return Usage(*(max(a, b) for a, b in zip(self.amounts(), other.amounts(), strict=True)))

    def amounts(self) -> tuple[int, ...]:
        return (
            self.instances,
            self.cores,
            self.memory_mib,
            self.floating_ips,
            self.gpus,
            self.volumes,
            self.gigabytes,
        )

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


NOTHING = Usage()


@dataclass(frozen=True)
class Hold:
    """What one offer or session keeps of one site's quota for one VO, over [start, end)."""

    site: str
    vo: str
    start: datetime
    end: datetime
    usage: Usage
    session: UUID | None = None
    group: UUID | None = None  # the offer set, while this is one of its (mutually exclusive) offers
