"""Session phases: the union of the 2025 spec and Calycopis names (Calycopis names win)."""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    INITIAL = "INITIAL"
    OFFERED = "OFFERED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    WAITING = "WAITING"
    PREPARING = "PREPARING"
    AVAILABLE = "AVAILABLE"
    RUNNING = "RUNNING"
    RELEASING = "RELEASING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_final(self) -> bool:
        return self in FINAL_PHASES

    @property
    def holds_capacity(self) -> bool:
        """An offer or a live session keeps its flavor's share of the site quota."""
        return self in HOLDING_PHASES


FINAL_PHASES = frozenset({Phase.REJECTED, Phase.EXPIRED, Phase.COMPLETED, Phase.FAILED, Phase.CANCELLED})
HOLDING_PHASES = frozenset(
    {
        Phase.OFFERED,
        Phase.ACCEPTED,
        Phase.WAITING,
        Phase.PREPARING,
        Phase.AVAILABLE,
        Phase.RUNNING,
        Phase.RELEASING,
    }
)

# The 2025 OpenAPI calls AVAILABLE "READY" and the first phase "PROPOSED".
PHASE_ALIASES_2025 = {Phase.AVAILABLE: "READY", Phase.INITIAL: "PROPOSED"}
PHASE_FROM_ALIAS = {alias: phase for phase, alias in PHASE_ALIASES_2025.items()}


def parse_phase(text: str) -> Phase:
    """Read a phase in either generation's spelling; raises ValueError for anything else."""
    upper = text.strip().upper()
    if upper in PHASE_FROM_ALIAS:
        return PHASE_FROM_ALIAS[upper]
    return Phase(upper)
