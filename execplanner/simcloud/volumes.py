"""Volumes the way Cinder keeps them and Nova attaches them: create within the project's volume quota, attach
to one server, detach, delete. Pure state changes under the site's lock; the HTTP shapes are in
`blockstorage.py`."""

from __future__ import annotations

import time
from typing import Any

from execplanner.simcloud._http import ApiError
from execplanner.simcloud.records import Server, Token, Volume, new_id
from execplanner.simcloud.state import SiteCloud

_DEVICES = "bcdefghijklmnopqrstuvwxyz"  # /dev/vda is the root disk


def _size(body: dict[str, Any]) -> int:
    size = body.get("size")
    if isinstance(size, bool) or not isinstance(size, int | str) or not str(size).isdigit() or int(size) < 1:
        raise ApiError(400, f"Invalid input received: Volume size '{size}' must be an integer and greater than 0.")
    return int(size)


def _image_id(site: SiteCloud, body: dict[str, Any], project_id: str, size: int) -> str | None:
    ref = body.get("imageRef")
    if not ref:
        return None
    image = site.images.get(str(ref))
    if image is None or not site.image_visible(image, project_id):
        raise ApiError(404, f"Image {ref} could not be found.")
    if image.spec.min_disk > size:
        raise ApiError(
            400,
            f"Invalid input received: Volume size {size}GB cannot be smaller than the image minDisk "
            f"size {image.spec.min_disk}GB.",
        )
    return image.id


def _check_quota(site: SiteCloud, project_id: str, size: int) -> None:
    """Cinder's two quota messages, as 413 (`overLimit`)."""
    quota, usage = site.quota(project_id), site.usage(project_id)
    if 0 <= quota.volumes < usage.volumes + 1:
        raise ApiError(
            413,
            f"VolumeLimitExceeded: Maximum number of volumes allowed ({quota.volumes}) exceeded for quota 'volumes'.",
        )
    if 0 <= quota.gigabytes < usage.gigabytes + size:
        raise ApiError(
            413,
            "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. "
            f"Requested {size}G, quota is {quota.gigabytes}G and {usage.gigabytes}G has been consumed.",
        )


def create_volume(site: SiteCloud, token: Token, body: dict[str, Any]) -> Volume:
    project_id = token.project_id or ""
    size = _size(body)
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ApiError(400, "Invalid input received: metadata must be a dict.")
    with site.lock:
        image_id = _image_id(site, body, project_id, size)
        _check_quota(site, project_id, size)
        volume = Volume(
            id=new_id(),
            name=str(body.get("name") or ""),
            project_id=project_id,
            user_id=token.user_id,
            size=size,
            created=time.time(),
            create_delay=site.spec.volume_delay,
            description=body.get("description"),
            metadata={str(k): str(v) for k, v in metadata.items()},
            image_id=image_id,
        )
        site.volumes[volume.id] = volume
    return volume


def visible_volume(site: SiteCloud, token: Token, volume_id: str) -> Volume:
    volume = site.volumes.get(volume_id)
    if volume is None or volume.project_id != token.project_id:
        raise ApiError(404, f"Volume {volume_id} could not be found.")
    return volume


def delete_volume(site: SiteCloud, volume: Volume) -> None:
    with site.lock:
        status = volume.status()
        if status not in ("available", "error"):
            raise ApiError(
                400,
                "Invalid volume: Volume status must be available or error or error_restoring or error_extending "
                f"or error_managing and must not be migrating, attached, belong to a group, have snapshots or be "
                f"disassociated from snapshots after volume transfer. (current status: {status})",
            )
        site.volumes.pop(volume.id, None)


def attach(site: SiteCloud, server: Server, volume: Volume) -> Volume:
    """Nova's `os-volume_attachments` POST: the volume must be `available`, the server not building."""
    with site.lock:
        if server.status() == "BUILD":
            raise ApiError(409, f"Cannot 'attach_volume' instance {server.id} while it is in vm_state building")
        status = volume.status()
        if status != "available":
            raise ApiError(
                400,
                f"Invalid volume: Volume {volume.id} status must be available or downloading to reserve, "
                f"but the current status is {status}.",
            )
        taken = {v.device for v in attached_to(site, server.id)}
        volume.device = next(f"/dev/vd{c}" for c in _DEVICES if f"/dev/vd{c}" not in taken)
        volume.server_id, volume.attachment_id, volume.attached_at = server.id, new_id(), time.time()
    return volume


def detach(site: SiteCloud, volume: Volume) -> None:
    with site.lock:
        volume.server_id = volume.device = volume.attachment_id = volume.attached_at = None


def attached_to(site: SiteCloud, server_id: str) -> list[Volume]:
    return sorted((v for v in site.volumes.values() if v.server_id == server_id), key=lambda v: v.device or "")


def detach_all(site: SiteCloud, server_id: str) -> None:
    """A deleted server leaves its volumes behind, detached and `available` (as Nova does)."""
    with site.lock:
        for volume in attached_to(site, server_id):
            detach(site, volume)
