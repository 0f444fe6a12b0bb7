"""What a booked session holds: its placement's share of the site quota over its schedule, from the start of
preparing to the end of releasing. Offers hold as members of their offer set (siblings share)."""

from __future__ import annotations

from execplanner.model.capacity import Hold, Usage
from execplanner.model.documents import Session
from execplanner.model.phase import Phase


def hold_of(session: Session) -> Hold | None:
    """The hold for a session being booked; None when it has nowhere to run (a NO has no placement)."""
    placement, schedule = session.placement, session.schedule
    if placement is None or schedule is None:
        return None
    return Hold(
        site=placement.site,
        vo=placement.vo,
        start=schedule.preparing.start,
        end=schedule.releasing.start + schedule.releasing.duration,
        usage=Usage(
            instances=1,
            cores=placement.cores,
            memory_mib=placement.memory_mib,
            floating_ips=placement.floating_ips,
            gpus=placement.gpus,
            volumes=placement.volumes,
            gigabytes=placement.volume_gib,
        ),
        session=session.uuid,
        group=session.offerset if session.phase is Phase.OFFERED else None,
    )


def holds_of(sessions: list[Session]) -> list[Hold]:
    return [hold for session in sessions if (hold := hold_of(session)) is not None]
