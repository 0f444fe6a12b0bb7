"""The session's block storage: one Cinder volume per `storage` resource, created before the server (so its
cloud-init knows the volume ids it mounts), attached once the server is ACTIVE, deleted after the server.

Each volume is named `execplanner-<uuid>-<n>` and carries the session in its metadata, so a retried launch
reuses it and teardown and reconciliation find it again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from execplanner.cloud import polling
from execplanner.cloud._errors import calling
from execplanner.cloud._names import META_KEY, PREFIX, object_name
from execplanner.errors import CloudError


@dataclass(frozen=True)
class VolumeSpec:
    """One volume to make: its size in GiB and where the VM mounts it."""

    size_gib: int
    mount: str


def volume_name(session: UUID, index: int) -> str:
    return f"{object_name(session)}-{index}"


def session_volumes(conn: Any, session: UUID) -> list[Any]:
    prefix = object_name(session) + "-"
    with calling(conn, "list_volumes", "listing the session's volumes"):
        return [v for v in conn.block_storage.volumes(details=True) if (v.name or "").startswith(prefix)]


def _wait_status(
    conn: Any, volume: Any, wanted: tuple[str, ...], deadline: float, cap: float = polling.MAX_PAUSE
) -> Any:
    schedule = polling.pauses(cap=cap)
    while True:
        with calling(conn, "get_volume", "waiting for a volume"):
            volume = conn.block_storage.get_volume(volume.id)
        if volume.status in wanted:
            return volume
        if volume.status == "error":
            raise CloudError(f"volume {volume.name} went to error")
        left = deadline - time.monotonic()
        if left <= 0:
            raise CloudError(f"volume {volume.name} was still {volume.status} when its deadline passed")
        time.sleep(min(next(schedule), left))


def ensure_volumes(
    conn: Any, session: UUID, specs: list[VolumeSpec], deadline: float, cap: float = polling.MAX_PAUSE
) -> list[str]:
    """The session's volumes (created if missing), available or already attached; their ids, in order. `cap`:
    the longest pause between two looks at a volume being made (`polling`)."""
    existing = {v.name: v for v in session_volumes(conn, session)}
    ids = []
    for index, spec in enumerate(specs):
        name = volume_name(session, index)
        volume = existing.get(name)
        if volume is None:
            with calling(conn, "create_volume", "creating a volume"):
                volume = conn.block_storage.create_volume(
                    name=name,
                    size=spec.size_gib,
                    description=f"execplanner session {session}: {spec.mount}",
                    metadata={META_KEY: str(session)},
                )
        volume = _wait_status(conn, volume, ("available", "in-use"), deadline, cap)
        ids.append(volume.id)
    return ids


def _attached(volume: Any, server_id: str) -> bool:
    return volume.status == "in-use" or any(a.get("server_id") == server_id for a in volume.attachments or [])


def attach_volumes(
    conn: Any, server_id: str, volume_ids: list[str], deadline: float, cap: float = polling.MAX_PAUSE
) -> None:
    """Attach each volume not attached yet. An attach refused because the volume is attached by now is done: an
    earlier attach the client gave up on (a timeout) was carried out after all."""
    from openstack.exceptions import HttpException

    for volume_id in volume_ids:
        with calling(conn, "attach_volume", "attaching a volume"):
            volume = conn.block_storage.get_volume(volume_id)
            if _attached(volume, server_id):
                continue
            try:
                conn.compute.create_volume_attachment(server_id, volume=volume_id)
            except HttpException:
                if not _attached(conn.block_storage.get_volume(volume_id), server_id):
                    raise
                continue
        _wait_status(conn, volume, ("in-use",), deadline, cap)


def delete_volumes(conn: Any, session: UUID, deadline: float) -> list[str]:
    """Delete every volume of the session (the server is gone by now, so they are detached)."""
    deleted = []
    for volume in session_volumes(conn, session):
        volume = _wait_status(conn, volume, ("available", "error"), deadline) if volume.status != "error" else volume
        with calling(conn, "delete_volume", "deleting a volume"):
            conn.block_storage.delete_volume(volume.id)
        deleted.append(f"volume {volume.name}")
    return deleted


def session_of_volume(name: str | None) -> UUID | None:
    """The session a volume belongs to, from its name (`execplanner-<uuid>-<n>`)."""
    if not name or not name.startswith(PREFIX):
        return None
    try:
        return UUID(name[len(PREFIX) : len(PREFIX) + 36])
    except ValueError:
        return None
