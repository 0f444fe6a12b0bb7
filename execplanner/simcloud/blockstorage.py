"""Cinder (block storage v3, microversions 3.0-3.70) and Nova's `os-volume_attachments`, as openstacksdk uses
them: `conn.block_storage.get_limits()`, `get_quota_set(project, usage=True)`, volume create/list/get/delete,
and `conn.compute.create_volume_attachment(server, volume)`. The state changes are in `volumes.py`.

A site whose spec says `block_storage: false` has no Cinder in its Keystone catalogue and answers 404 here.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from execplanner.simcloud import volumes
from execplanner.simcloud._http import ApiError, Call, iso, sim_route
from execplanner.simcloud.compute import _json as _nova_json
from execplanner.simcloud.compute import _microversion as _nova_microversion
from execplanner.simcloud.records import Server, Token, Volume
from execplanner.simcloud.state import SiteCloud

MAX_VERSION = "3.70"
MIN_VERSION = "3.0"
#: (service type, service name) entries of the Keystone catalogue; openstacksdk looks for `block-storage`,
#: older clients for `volumev3`. Both point at `volume/v3/{project_id}`, as Cinder endpoints usually do.
CATALOGUE_TYPES = (("block-storage", "cinder"), ("volumev3", "cinderv3"))
_FIXED_QUOTAS = {"snapshots": 10, "backups": 10, "backup_gigabytes": 1000, "groups": 10, "per_volume_gigabytes": -1}


def catalogue_paths(site: SiteCloud, project_id: str | None) -> list[tuple[str, str, str]]:
    """(type, name, path under the site) of the Cinder endpoints a token scoped to `project_id` lists."""
    if not site.spec.block_storage or not project_id:
        return []
    return [(kind, name, f"volume/v3/{project_id}") for kind, name in CATALOGUE_TYPES]


def _microversion(call: Call) -> str:
    header = call.request.headers.get("openstack-api-version", "")
    value = header.split("volume", 1)[1].strip() if "volume" in header else MIN_VERSION
    return MAX_VERSION if value == "latest" else value


def _json(call: Call, body: Any, status: int = 200) -> JSONResponse:
    headers = {"OpenStack-API-Version": f"volume {_microversion(call)}", "Vary": "OpenStack-API-Version"}
    return JSONResponse(body, status_code=status, headers=headers)


def _cinder(call: Call) -> None:
    if not call.site.spec.block_storage:
        raise ApiError(404, f"The site {call.site.name} has no block storage service.")


def _project_token(call: Call) -> Token:
    """The caller's project token; the project in the URL must be its own (Cinder's default policy)."""
    _cinder(call)
    token = call.project_token()
    if call.request.path_params["project_id"] != token.project_id:
        raise ApiError(403, "Policy doesn't allow this operation to be performed on another project.")
    return token


# ---------------------------------------------------------------------- versions
def _version_doc(call: Call) -> dict[str, Any]:
    return {
        "id": "v3.0",
        "status": "CURRENT",
        "version": MAX_VERSION,
        "min_version": MIN_VERSION,
        "updated": "2022-08-31T00:00:00Z",
        "links": [{"rel": "self", "href": f"{call.base}/volume/v3/"}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}],
    }


async def versions(call: Call) -> Response:
    _cinder(call)
    status = 300 if call.request.url.path.rstrip("/").endswith("/volume") else 200
    return JSONResponse({"versions": [_version_doc(call)]}, status_code=status)


# ---------------------------------------------------------------------- limits and quotas
async def limits(call: Call) -> Response:
    token = _project_token(call)
    with call.site.lock:
        quota, usage = call.site.quota(token.project_id or ""), call.site.usage(token.project_id or "")
    absolute = {
        "maxTotalVolumes": quota.volumes,
        "maxTotalVolumeGigabytes": quota.gigabytes,
        "maxTotalSnapshots": _FIXED_QUOTAS["snapshots"],
        "maxTotalBackups": _FIXED_QUOTAS["backups"],
        "maxTotalBackupGigabytes": _FIXED_QUOTAS["backup_gigabytes"],
        "totalVolumesUsed": usage.volumes,
        "totalGigabytesUsed": usage.gigabytes,
        "totalSnapshotsUsed": 0,
        "totalBackupsUsed": 0,
        "totalBackupGigabytesUsed": 0,
    }
    return _json(call, {"limits": {"absolute": absolute, "rate": []}})


async def quota_set(call: Call) -> Response:
    _project_token(call)
    target = call.request.path_params["target_id"]
    if target not in call.site.projects:
        raise ApiError(404, f"Project {target} could not be found.")
    detailed = call.query("usage") in ("true", "True", "1")
    with call.site.lock:
        quota, usage = call.site.quota(target), call.site.usage(target)
    doc: dict[str, Any] = {"id": target}
    limits_and_use = {
        "volumes": (quota.volumes, usage.volumes),
        "gigabytes": (quota.gigabytes, usage.gigabytes),
        **{key: (value, 0) for key, value in _FIXED_QUOTAS.items()},
    }
    for key, (limit, in_use) in limits_and_use.items():
        doc[key] = {"limit": limit, "in_use": in_use, "reserved": 0, "allocated": 0} if detailed else limit
    return _json(call, {"quota_set": doc})


async def update_quota_set(call: Call) -> Response:
    """Lets tests (acting as a site admin) shrink or grow a project's volume quota."""
    _project_token(call)
    changes = (await call.body()).get("quota_set") or {}
    with call.site.lock:
        quota = call.site.quota(call.request.path_params["target_id"])
        for key in ("volumes", "gigabytes"):
            if key in changes:
                setattr(quota, key, int(changes[key]))
    return await quota_set(call)


# ---------------------------------------------------------------------- volumes
def volume_doc(call: Call, volume: Volume) -> dict[str, Any]:
    link = f"{call.base}/volume/v3/{volume.project_id}/volumes/{volume.id}"
    status = volume.status()
    attachments = []
    if volume.server_id:
        attachments.append(
            {
                "id": volume.id,
                "attachment_id": volume.attachment_id,
                "volume_id": volume.id,
                "server_id": volume.server_id,
                "host_name": None,
                "device": volume.device,
                "attached_at": iso(volume.attached_at or volume.created),
            }
        )
    return {
        "id": volume.id,
        "name": volume.name,
        "description": volume.description,
        "size": volume.size,
        "status": status,
        "attachments": attachments,
        "availability_zone": "nova",
        "bootable": "true" if volume.image_id else "false",
        "encrypted": False,
        "multiattach": False,
        "metadata": dict(volume.metadata),
        "volume_type": "__DEFAULT__",
        "snapshot_id": None,
        "source_volid": None,
        "user_id": volume.user_id,
        "created_at": iso(volume.created),
        "updated_at": iso(volume.created + (0 if status == "creating" else volume.create_delay)),
        "replication_status": None,
        "consistencygroup_id": None,
        "migration_status": None,
        "group_id": None,
        "consumes_quota": True,
        "links": [{"rel": "self", "href": link}],
    }


async def create_volume(call: Call) -> Response:
    token = _project_token(call)
    body = (await call.body()).get("volume")
    if not isinstance(body, dict):
        raise ApiError(400, "Missing required element 'volume' in request body.")
    fault = call.federation.faults.take(call.site.name, call.name, frozenset({"server_error"}))
    volume = volumes.create_volume(call.site, token, body)
    if fault is not None:
        volume.fault_mode = "error"
    return _json(call, {"volume": volume_doc(call, volume)}, 202)


async def list_volumes(call: Call) -> Response:
    token = _project_token(call)
    detail = call.request.url.path.endswith("/detail")
    name, status = call.query("name"), call.query("status")
    with call.site.lock:
        mine = [v for v in call.site.volumes.values() if v.project_id == token.project_id]
        mine = [v for v in mine if (name is None or v.name == name) and (status is None or v.status() == status)]
        docs = [volume_doc(call, v) for v in sorted(mine, key=lambda v: -v.created)]
    if not detail:
        docs = [{"id": d["id"], "name": d["name"], "links": d["links"]} for d in docs]
    return _json(call, {"volumes": docs})


async def show_volume(call: Call) -> Response:
    token = _project_token(call)
    volume = volumes.visible_volume(call.site, token, call.request.path_params["volume_id"])
    return _json(call, {"volume": volume_doc(call, volume)})


async def delete_volume(call: Call) -> Response:
    token = _project_token(call)
    volume = volumes.visible_volume(call.site, token, call.request.path_params["volume_id"])
    volumes.delete_volume(call.site, volume)
    return Response(status_code=202)


# ---------------------------------------------------------------------- Nova os-volume_attachments
def _server(call: Call) -> tuple[Token, Server]:
    token = call.project_token()
    server = call.site.servers.get(call.request.path_params["server_id"])
    if server is None or server.project_id != token.project_id:
        raise ApiError(404, f"Instance {call.request.path_params['server_id']} could not be found.")
    return token, server


def _attached_volume(call: Call, token: Token, server: Server, volume_id: str) -> Volume:
    volume = call.site.volumes.get(volume_id)
    if volume is None or volume.project_id != token.project_id or volume.server_id != server.id:
        raise ApiError(404, f"volume_id not found: {volume_id}")
    return volume


def attachment_doc(call: Call, volume: Volume) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": volume.id,
        "serverId": volume.server_id,
        "volumeId": volume.id,
        "device": volume.device,
    }
    if _nova_microversion(call) >= (2, 70):
        doc["tag"] = None
    if _nova_microversion(call) >= (2, 79):
        doc["delete_on_termination"] = False
    return doc


async def create_attachment(call: Call) -> Response:
    token, server = _server(call)
    body = (await call.body()).get("volumeAttachment")
    if not isinstance(body, dict) or not body.get("volumeId"):
        raise ApiError(400, "Invalid input for field/attribute volumeAttachment. Value: volumeId is required")
    volume = call.site.volumes.get(str(body["volumeId"])) if call.site.spec.block_storage else None
    if volume is None or volume.project_id != token.project_id:
        raise ApiError(404, f"Volume {body['volumeId']} could not be found.")
    volumes.attach(call.site, server, volume)
    return _nova_json(call, {"volumeAttachment": attachment_doc(call, volume)})


async def list_attachments(call: Call) -> Response:
    _, server = _server(call)
    with call.site.lock:
        docs = [attachment_doc(call, v) for v in volumes.attached_to(call.site, server.id)]
    return _nova_json(call, {"volumeAttachments": docs})


async def show_attachment(call: Call) -> Response:
    token, server = _server(call)
    volume = _attached_volume(call, token, server, call.request.path_params["volume_id"])
    return _nova_json(call, {"volumeAttachment": attachment_doc(call, volume)})


async def delete_attachment(call: Call) -> Response:
    token, server = _server(call)
    volumes.detach(call.site, _attached_volume(call, token, server, call.request.path_params["volume_id"]))
    return Response(status_code=202)


def routes() -> list[Route]:
    r = sim_route
    p = "/{site}/volume"
    v = p + "/v3/{project_id}"
    q, vol = v + "/os-quota-sets/{target_id}", v + "/volumes"
    att = "/{site}/compute/v2.1/servers/{server_id}/os-volume_attachments"
    return [
        r(p, versions, ["GET"], "volume.versions", "volume"),
        r(p + "/", versions, ["GET"], "volume.versions", "volume"),
        r(p + "/v3", versions, ["GET"], "volume.versions", "volume"),
        r(p + "/v3/", versions, ["GET"], "volume.versions", "volume"),
        r(v + "/limits", limits, ["GET"], "volume.limits", "volume"),
        r(q, quota_set, ["GET"], "volume.quotas.get", "volume"),
        r(q, update_quota_set, ["PUT"], "volume.quotas.update", "volume"),
        r(vol, create_volume, ["POST"], "volume.volumes.create", "volume"),
        r(vol, list_volumes, ["GET"], "volume.volumes.list", "volume"),
        r(vol + "/detail", list_volumes, ["GET"], "volume.volumes.list", "volume"),
        r(vol + "/{volume_id}", show_volume, ["GET"], "volume.volumes.get", "volume"),
        r(vol + "/{volume_id}", delete_volume, ["DELETE"], "volume.volumes.delete", "volume"),
        r(att, create_attachment, ["POST"], "compute.volume_attachments.create", "compute"),
        r(att, list_attachments, ["GET"], "compute.volume_attachments.list", "compute"),
        r(att + "/{volume_id}", show_attachment, ["GET"], "compute.volume_attachments.get", "compute"),
        r(att + "/{volume_id}", delete_attachment, ["DELETE"], "compute.volume_attachments.delete", "compute"),
    ]
