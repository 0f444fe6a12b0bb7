"""Nova v2.1 (microversions up to 2.79): flavors with extra specs, servers, keypairs, limits and quota sets,
with real quota enforcement and BUILD -> ACTIVE computed from timestamps."""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import time
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from execplanner.simcloud import volumes
from execplanner.simcloud._http import ApiError, Call, iso, sim_route
from execplanner.simcloud.boot import build_server
from execplanner.simcloud.faults import SERVER_KINDS
from execplanner.simcloud.records import Keypair, Server
from execplanner.simcloud.state import SiteCloud

MAX_VERSION = "2.79"
MIN_VERSION = "2.1"


def _microversion(call: Call) -> tuple[int, int]:
    """The microversion the client asked for (default 2.1); `latest` means our maximum."""
    header = call.request.headers.get("openstack-api-version", "")
    value = header.split("compute", 1)[1].strip() if "compute" in header else ""
    value = value or call.request.headers.get("x-openstack-nova-api-version", "") or MIN_VERSION
    if value == "latest":
        value = MAX_VERSION
    major, minor = value.split(".")
    return int(major), int(minor)


def _json(call: Call, body: Any, status: int = 200) -> JSONResponse:
    major, minor = _microversion(call)
    version = f"{major}.{minor}"
    headers = {
        "OpenStack-API-Version": f"compute {version}",
        "X-OpenStack-Nova-API-Version": version,
        "Vary": "OpenStack-API-Version, X-OpenStack-Nova-API-Version",
    }
    return JSONResponse(body, status_code=status, headers=headers)


def _version_doc(call: Call) -> dict[str, Any]:
    return {
        "id": "v2.1",
        "status": "CURRENT",
        "version": MAX_VERSION,
        "min_version": MIN_VERSION,
        "updated": "2013-07-23T11:33:21Z",
        "links": [{"rel": "self", "href": f"{call.base}/compute/v2.1/"}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}],
    }


async def versions(call: Call) -> Response:
    return JSONResponse({"versions": [_version_doc(call)]})


async def version(call: Call) -> Response:
    return JSONResponse({"version": _version_doc(call)})


# ---------------------------------------------------------------------- flavors
def _flavor_doc(call: Call, fid: str, detail: bool) -> dict[str, Any]:
    flavor = call.site.flavors[fid]
    link = f"{call.base}/compute/v2.1/flavors/{fid}"
    doc: dict[str, Any] = {"id": fid, "name": flavor.spec.name, "links": [{"rel": "self", "href": link}]}
    if detail:
        spec = flavor.spec
        doc.update(
            {
                "vcpus": spec.vcpus,
                "ram": spec.ram,
                "disk": spec.disk,
                "OS-FLV-EXT-DATA:ephemeral": spec.ephemeral,
                "swap": spec.swap or "",
                "rxtx_factor": 1.0,
                "os-flavor-access:is_public": spec.is_public,
                "OS-FLV-DISABLED:disabled": False,
                "description": None,
            }
        )
        if _microversion(call) >= (2, 61):
            doc["extra_specs"] = dict(spec.extra_specs)
    return doc


def _flavor(call: Call) -> str:
    fid = call.request.path_params["flavor_id"]
    if fid not in call.site.flavors:
        raise ApiError(404, f"Flavor {fid} could not be found.")
    return fid


async def list_flavors(call: Call) -> Response:
    call.token()
    detail = call.request.url.path.endswith("/detail")
    return _json(call, {"flavors": [_flavor_doc(call, fid, detail) for fid in call.site.flavors]})


async def show_flavor(call: Call) -> Response:
    call.token()
    return _json(call, {"flavor": _flavor_doc(call, _flavor(call), True)})


async def extra_specs(call: Call) -> Response:
    call.token()
    specs = call.site.flavors[_flavor(call)].spec.extra_specs
    key = call.request.path_params.get("key")
    if key is None:
        return _json(call, {"extra_specs": dict(specs)})
    if key not in specs:
        raise ApiError(404, f"Flavor {call.request.path_params['flavor_id']} has no extra specs with key {key}.")
    return _json(call, {key: specs[key]})


# ---------------------------------------------------------------------- keypairs
def _keypair_doc(keypair: Keypair, with_private: str | None = None) -> dict[str, Any]:
    doc = {
        "name": keypair.name,
        "public_key": keypair.public_key,
        "fingerprint": keypair.fingerprint,
        "type": keypair.type,
        "user_id": keypair.user_id,
        "created_at": iso(keypair.created),
        "deleted": False,
        "id": abs(hash(keypair.name)) % 10000,
    }
    if with_private is not None:
        doc["private_key"] = with_private
    return doc


def _generated_keypair() -> tuple[str, str]:
    """A syntactically plausible key pair; the simulator never logs into anything."""
    body = base64.b64encode(b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + secrets.token_bytes(32)).decode()
    private = (
        "-----BEGIN OPENSSH PRIVATE KEY-----\n"
        + base64.b64encode(secrets.token_bytes(180)).decode()
        + "\n-----END OPENSSH PRIVATE KEY-----\n"
    )
    return f"ssh-ed25519 {body} Generated-by-Nova", private


def _fingerprint(public_key: str) -> str:
    parts = public_key.split()
    if len(parts) < 2 or not parts[0].startswith(("ssh-", "ecdsa-")):
        raise ApiError(400, "Keypair data is invalid: failed to generate fingerprint")
    try:
        raw = base64.b64decode(parts[1], validate=True)
    except binascii.Error as exc:
        raise ApiError(400, "Keypair data is invalid: failed to generate fingerprint") from exc
    digest = hashlib.md5(raw, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, 32, 2))


async def create_keypair(call: Call) -> Response:
    token = call.project_token()
    body = (await call.body()).get("keypair") or {}
    name = body.get("name")
    if not name:
        raise ApiError(400, "Invalid input for field/attribute keypair. Value: name is required")
    public_key, private_key = body.get("public_key"), None
    if not public_key:
        public_key, private_key = _generated_keypair()
    with call.site.lock:
        if (token.user_id, name) in call.site.keypairs:
            raise ApiError(409, f"Key pair '{name}' already exists.")
        limit = call.site.quota(token.project_id or "").key_pairs
        if call.site.user_keypair_count(token.user_id) >= limit:
            raise ApiError(403, "Quota exceeded, too many key pairs.")
        keypair = Keypair(
            name, token.user_id, public_key, _fingerprint(public_key), body.get("type", "ssh"), time.time()
        )
        call.site.keypairs[(token.user_id, name)] = keypair
    status = 201 if _microversion(call) >= (2, 2) else 200
    return _json(call, {"keypair": _keypair_doc(keypair, private_key)}, status)


async def list_keypairs(call: Call) -> Response:
    token = call.token()
    with call.site.lock:
        mine = [k for (uid, _), k in call.site.keypairs.items() if uid == token.user_id]
    docs = [
        {"keypair": {k: v for k, v in _keypair_doc(kp).items() if k in ("name", "public_key", "fingerprint", "type")}}
        for kp in mine
    ]
    return _json(call, {"keypairs": docs})


def _keypair(call: Call) -> Keypair:
    token = call.token()
    name = call.request.path_params["name"]
    keypair = call.site.keypairs.get((token.user_id, name))
    if keypair is None:
        raise ApiError(404, f"Keypair {name} not found for user {token.user_id}")
    return keypair


async def show_keypair(call: Call) -> Response:
    return _json(call, {"keypair": _keypair_doc(_keypair(call))})


async def delete_keypair(call: Call) -> Response:
    keypair = _keypair(call)
    with call.site.lock:
        call.site.keypairs.pop((keypair.user_id, keypair.name), None)
    return Response(status_code=202 if _microversion(call) < (2, 2) else 204)


# ---------------------------------------------------------------------- limits and quotas
def _limits(site: SiteCloud, project_id: str) -> dict[str, int]:
    quota, usage = site.quota(project_id), site.usage(project_id)
    return {
        "maxTotalInstances": quota.instances,
        "maxTotalCores": quota.cores,
        "maxTotalRAMSize": quota.ram,
        "maxTotalKeypairs": quota.key_pairs,
        "maxServerMeta": 128,
        "maxPersonality": 5,
        "maxPersonalitySize": 10240,
        "maxServerGroups": 10,
        "maxServerGroupMembers": 10,
        "maxImageMeta": 128,
        "totalInstancesUsed": usage.instances,
        "totalCoresUsed": usage.cores,
        "totalRAMUsed": usage.ram,
        "totalServerGroupsUsed": 0,
        "maxTotalFloatingIps": quota.floating_ips,
        "totalFloatingIpsUsed": usage.floating_ips,
        "maxSecurityGroups": quota.security_groups,
        "totalSecurityGroupsUsed": usage.security_groups,
    }


async def limits(call: Call) -> Response:
    token = call.project_token()
    with call.site.lock:
        absolute = _limits(call.site, token.project_id or "")
    if _microversion(call) >= (2, 36):
        for key in ("maxTotalFloatingIps", "totalFloatingIpsUsed", "maxSecurityGroups", "totalSecurityGroupsUsed"):
            absolute.pop(key)
    return _json(call, {"limits": {"absolute": absolute, "rate": []}})


_NOVA_QUOTAS = ("instances", "cores", "ram", "key_pairs")


async def quota_set(call: Call) -> Response:
    call.project_token()
    project_id = call.request.path_params["project_id"]
    with call.site.lock:
        quota, usage = call.site.quota(project_id), call.site.usage(project_id)
        doc: dict[str, Any] = {"id": project_id}
        detailed = call.request.url.path.endswith("/detail")
        for key in _NOVA_QUOTAS:
            limit = getattr(quota, key)
            doc[key] = {"limit": limit, "in_use": getattr(usage, key), "reserved": 0} if detailed else limit
        doc.update(
            {
                "metadata_items": 128,
                "server_groups": 10,
                "server_group_members": 10,
                "injected_files": 5,
                "injected_file_content_bytes": 10240,
                "injected_file_path_bytes": 255,
            }
        )
    return _json(call, {"quota_set": doc})


async def update_quota_set(call: Call) -> Response:
    """Lets tests (acting as a site admin) shrink or grow a project's quota."""
    call.project_token()
    project_id = call.request.path_params["project_id"]
    changes = (await call.body()).get("quota_set") or {}
    with call.site.lock:
        quota = call.site.quota(project_id)
        for key, value in changes.items():
            if key in type(quota).model_fields:
                setattr(quota, key, int(value))
    return await quota_set(call)


# ---------------------------------------------------------------------- servers
def _addresses(site: SiteCloud, server: Server) -> dict[str, list[dict[str, Any]]]:
    addresses: dict[str, list[dict[str, Any]]] = {}
    for port_id in server.port_ids:
        port = site.ports.get(port_id)
        if port is None:
            continue
        entries = addresses.setdefault(site.networks[port.network_id].name, [])
        for _, ip in port.fixed_ips:
            entries.append(
                {"version": 4, "addr": ip, "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": port.mac_address}
            )
            for fip in site.floating_ips.values():
                if fip.port_id == port.id and fip.fixed_ip == ip:
                    entries.append(
                        {
                            "version": 4,
                            "addr": fip.address,
                            "OS-EXT-IPS:type": "floating",
                            "OS-EXT-IPS-MAC:mac_addr": port.mac_address,
                        }
                    )
    return addresses


def server_doc(call: Call, server: Server, detail: bool = True) -> dict[str, Any]:
    link = f"{call.base}/compute/v2.1/servers/{server.id}"
    doc: dict[str, Any] = {"id": server.id, "name": server.name, "links": [{"rel": "self", "href": link}]}
    if not detail:
        return doc
    site = call.site
    status = server.status()
    flavor = site.flavors.get(server.flavor_id)
    if _microversion(call) >= (2, 47) and flavor is not None:
        spec = flavor.spec
        flavor_doc: dict[str, Any] = {
            "vcpus": spec.vcpus,
            "ram": spec.ram,
            "disk": spec.disk,
            "ephemeral": spec.ephemeral,
            "swap": spec.swap,
            "original_name": spec.name,
            "extra_specs": dict(spec.extra_specs),
        }
    else:
        flavor_doc = {"id": server.flavor_id, "links": []}
    doc.update(
        {
            "status": status,
            "tenant_id": server.project_id,
            "user_id": server.user_id,
            "metadata": server.metadata,
            "hostId": hashlib.sha224(f"{server.project_id}host".encode()).hexdigest(),
            "image": {"id": server.image_id, "links": []},
            "flavor": flavor_doc,
            "created": iso(server.created),
            "updated": iso(server.created + (0 if status == "BUILD" else server.boot_delay)),
            "addresses": _addresses(site, server) if status != "BUILD" or server.fault_mode != "stuck" else {},
            "accessIPv4": "",
            "accessIPv6": "",
            "key_name": server.key_name,
            "config_drive": "",
            "progress": 0,
            "OS-EXT-STS:task_state": "spawning" if status == "BUILD" else None,
            "OS-EXT-STS:vm_state": {"BUILD": "building", "ACTIVE": "active", "ERROR": "error"}[status],
            "OS-EXT-STS:power_state": 1 if status == "ACTIVE" else 0,
            "OS-EXT-AZ:availability_zone": "nova",
            "OS-DCF:diskConfig": "MANUAL",
            "OS-SRV-USG:launched_at": None if status == "BUILD" else iso(server.created + server.boot_delay),
            "OS-SRV-USG:terminated_at": None,
            "security_groups": [{"name": name} for name in server.security_groups],
            "os-extended-volumes:volumes_attached": [
                {"id": v.id, "delete_on_termination": False} for v in volumes.attached_to(site, server.id)
            ],
            "tags": list(server.tags),
            "locked": False,
            "description": None,
            "OS-EXT-SRV-ATTR:user_data": server.user_data,
        }
    )
    if status == "ERROR":
        doc["fault"] = {"code": 500, "created": doc["updated"], "message": server.fault_message}
    return doc


def _visible_server(call: Call) -> Server:
    token = call.project_token()
    server = call.site.servers.get(call.request.path_params["server_id"])
    if server is None or server.project_id != token.project_id:
        raise ApiError(404, f"Instance {call.request.path_params['server_id']} could not be found.")
    return server


async def list_servers(call: Call) -> Response:
    token = call.project_token()
    detail = call.request.url.path.endswith("/detail")
    name, status = call.query("name"), call.query("status")
    with call.site.lock:
        servers = [s for s in call.site.servers.values() if s.project_id == token.project_id]
        servers = [s for s in servers if (name is None or name in s.name) and (status is None or s.status() == status)]
        docs = [server_doc(call, s, detail) for s in sorted(servers, key=lambda s: -s.created)]
    return _json(call, {"servers": docs})


async def show_server(call: Call) -> Response:
    server = _visible_server(call)
    with call.site.lock:
        return _json(call, {"server": server_doc(call, server)})


FAILED_DELETE = "Failed to delete the instance: the compute host did not answer."


async def delete_server(call: Call) -> Response:
    server = _visible_server(call)
    fault = call.federation.faults.take(call.site.name, call.name, SERVER_KINDS)
    if fault is not None:  # accepted, but the server stays: as it was (stuck) or in ERROR (server_error)
        with call.site.lock:
            if fault.kind == "server_error":
                server.fault_mode, server.fault_message = "error", fault.message or FAILED_DELETE
        return Response(status_code=204)
    with call.site.lock:
        for port_id in server.port_ids:
            call.site.ports.pop(port_id, None)
            for fip in call.site.floating_ips.values():  # Neutron keeps the FIP, only disassociated
                if fip.port_id == port_id:
                    fip.port_id = fip.fixed_ip = fip.router_id = None
        volumes.detach_all(call.site, server.id)
        call.site.servers.pop(server.id, None)
    return Response(status_code=204)


async def server_metadata(call: Call) -> Response:
    server = _visible_server(call)
    if call.request.method == "GET":
        return _json(call, {"metadata": server.metadata})
    changes = (await call.body()).get("metadata") or {}
    with call.site.lock:
        if call.request.method == "PUT":
            server.metadata = {}
        server.metadata.update({str(k): str(v) for k, v in changes.items()})
    return _json(call, {"metadata": server.metadata})


async def server_tags(call: Call) -> Response:
    server = _visible_server(call)
    tag = call.request.path_params.get("tag")
    with call.site.lock:
        if call.request.method == "PUT" and tag is not None:
            if tag not in server.tags:
                server.tags.append(tag)
            return Response(status_code=201)
        if call.request.method == "PUT":
            server.tags = list((await call.body()).get("tags") or [])
        if call.request.method == "DELETE" and tag is not None:
            if tag not in server.tags:
                raise ApiError(404, f"Tag {tag} could not be found.")
            server.tags.remove(tag)
            return Response(status_code=204)
        if tag is not None:
            return Response(status_code=204 if tag in server.tags else 404)
        return _json(call, {"tags": server.tags})


async def server_action(call: Call) -> Response:
    server = _visible_server(call)
    body = await call.body()
    if not any(k in body for k in ("os-start", "os-stop", "reboot")):
        raise ApiError(400, f"Unsupported action in simulator: {sorted(body)}")
    if server.status() != "ACTIVE":
        raise ApiError(409, f"Cannot '{next(iter(body))}' instance {server.id} while it is in vm_state building")
    return Response(status_code=202)


async def create_server(call: Call) -> Response:
    token = call.project_token()
    body = (await call.body()).get("server")
    if not isinstance(body, dict):
        raise ApiError(400, "Invalid input for field/attribute server.")
    fault = call.federation.faults.take(call.site.name, call.name, SERVER_KINDS)
    server = build_server(call.site, token, body, fault.kind if fault else "", fault.message if fault else None)
    doc = {
        "id": server.id,
        "links": server_doc(call, server, detail=False)["links"],
        "OS-DCF:diskConfig": "MANUAL",
        "security_groups": [{"name": n} for n in server.security_groups],
        "adminPass": secrets.token_urlsafe(9),
    }
    return _json(call, {"server": doc}, 202)


def routes() -> list[Route]:
    p = "/{site}/compute"
    v = p + "/v2.1"
    fl, srv, kp = v + "/flavors", v + "/servers", v + "/os-keypairs"
    q = v + "/os-quota-sets/{project_id}"
    r = sim_route
    return [
        r(p, versions, ["GET"], "compute.versions", "compute"),
        r(p + "/", versions, ["GET"], "compute.versions", "compute"),
        r(v, version, ["GET"], "compute.version", "compute"),
        r(v + "/", version, ["GET"], "compute.version", "compute"),
        r(fl, list_flavors, ["GET"], "compute.flavors.list", "compute"),
        r(fl + "/detail", list_flavors, ["GET"], "compute.flavors.list", "compute"),
        r(fl + "/{flavor_id}", show_flavor, ["GET"], "compute.flavors.get", "compute"),
        r(fl + "/{flavor_id}/os-extra_specs", extra_specs, ["GET"], "compute.flavors.extra_specs", "compute"),
        r(fl + "/{flavor_id}/os-extra_specs/{key}", extra_specs, ["GET"], "compute.flavors.extra_specs", "compute"),
        r(kp, create_keypair, ["POST"], "compute.keypairs.create", "compute"),
        r(kp, list_keypairs, ["GET"], "compute.keypairs.list", "compute"),
        r(kp + "/{name}", show_keypair, ["GET"], "compute.keypairs.get", "compute"),
        r(kp + "/{name}", delete_keypair, ["DELETE"], "compute.keypairs.delete", "compute"),
        r(v + "/limits", limits, ["GET"], "compute.limits", "compute"),
        r(q, quota_set, ["GET"], "compute.quotas.get", "compute"),
        r(q + "/detail", quota_set, ["GET"], "compute.quotas.get", "compute"),
        r(q, update_quota_set, ["PUT"], "compute.quotas.update", "compute"),
        r(srv, create_server, ["POST"], "compute.servers.create", "compute"),
        r(srv, list_servers, ["GET"], "compute.servers.list", "compute"),
        r(srv + "/detail", list_servers, ["GET"], "compute.servers.list", "compute"),
        r(srv + "/{server_id}", show_server, ["GET"], "compute.servers.get", "compute"),
        r(srv + "/{server_id}", delete_server, ["DELETE"], "compute.servers.delete", "compute"),
        r(
            srv + "/{server_id}/metadata",
            server_metadata,
            ["GET", "POST", "PUT"],
            "compute.servers.metadata",
            "compute",
        ),
        r(srv + "/{server_id}/tags", server_tags, ["GET", "PUT"], "compute.servers.tags", "compute"),
        r(srv + "/{server_id}/tags/{tag}", server_tags, ["GET", "PUT", "DELETE"], "compute.servers.tags", "compute"),
        r(srv + "/{server_id}/action", server_action, ["POST"], "compute.servers.action", "compute"),
    ]
