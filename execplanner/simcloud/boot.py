"""Creating a server the way Nova does: validate every reference, enforce quota, plug a port into each
network, and record the fault a test injected. Pure state changes; the HTTP shape is in `compute.py`."""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from typing import Any

from execplanner.simcloud._http import ApiError
from execplanner.simcloud.records import Flavor, Port, Server, Token, new_id
from execplanner.simcloud.state import IpExhausted, SiteCloud

NO_VALID_HOST = "No valid host was found. There are not enough hosts available."
MAX_USER_DATA = 65535


def _ref(value: Any) -> str:
    """Nova accepts an id or a link to the object: keep the last path segment."""
    return str(value or "").rstrip("/").rsplit("/", 1)[-1]


def _flavor(site: SiteCloud, body: dict[str, Any]) -> Flavor:
    ref = _ref(body.get("flavorRef"))
    flavor = site.flavors.get(ref) or next((f for f in site.flavors.values() if f.spec.name == ref), None)
    if flavor is None:
        raise ApiError(400, f"Flavor {ref} could not be found.")
    return flavor


def _image_id(site: SiteCloud, body: dict[str, Any], project_id: str, flavor: Flavor) -> str:
    ref = _ref(body.get("imageRef"))
    image = site.images.get(ref)
    if image is None or not site.image_visible(image, project_id):
        raise ApiError(400, f"Image {ref} could not be found.")
    if image.spec.min_ram > flavor.spec.ram:
        raise ApiError(400, "Flavor's memory is too small for requested image.")
    if image.spec.min_disk > flavor.spec.disk:
        raise ApiError(400, "Flavor's disk is too small for requested image.")
    return image.id


def _user_data(body: dict[str, Any]) -> str | None:
    data = body.get("user_data")
    if data is None:
        return None
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiError(400, "User data needs to be valid base 64.") from exc
    if len(data) > MAX_USER_DATA:
        raise ApiError(
            400, f"User data too large. User data must be no larger than {MAX_USER_DATA} bytes once base64 encoded."
        )
    return str(data)


def _check_quota(site: SiteCloud, project_id: str, flavor: Flavor) -> None:
    quota, usage = site.quota(project_id), site.usage(project_id)
    for resource, requested, used, limit in (
        ("instances", 1, usage.instances, quota.instances),
        ("cores", flavor.spec.vcpus, usage.cores, quota.cores),
        ("ram", flavor.spec.ram, usage.ram, quota.ram),
    ):
        if used + requested > limit:
            raise ApiError(
                403,
                f"Quota exceeded for {resource}: Requested {requested}, but already used {used} of {limit} {resource}",
            )


def _network_ids(site: SiteCloud, body: dict[str, Any], project_id: str) -> list[str]:
    requested = body.get("networks")
    if requested == "none":
        return []
    if isinstance(requested, list) and requested:
        ids = []
        for item in requested:
            if "port" in item:
                raise ApiError(400, "Booting with a pre-created port is not supported by the simulator.")
            net = site.networks.get(str(item.get("uuid", "")))
            if net is None or not site.network_visible(net, project_id):
                raise ApiError(400, f"Network {item.get('uuid')} could not be found.")
            if net.external and not net.shared:
                raise ApiError(403, f"It is not allowed to create an interface on external network {net.id}")
            ids.append(net.id)
        return ids
    candidates = [n.id for n in site.networks.values() if site.network_visible(n, project_id) and not n.external]
    if len(candidates) > 1:
        raise ApiError(409, "Multiple possible networks found, use a Network ID to be more specific.")
    if not candidates:
        raise ApiError(400, f"Unable to automatically allocate a network for project {project_id}")
    return candidates


def _security_groups(site: SiteCloud, body: dict[str, Any], project_id: str) -> list[str]:
    names = [str(g.get("name")) for g in body.get("security_groups") or [{"name": "default"}]]
    own = {g.name for g in site.security_groups.values() if g.project_id == project_id}
    own |= {g.id for g in site.security_groups.values() if g.project_id == project_id}
    for name in names:
        if name not in own:
            raise ApiError(400, f"Security group {name} not found for project {project_id}.")
    return names


def _plug(site: SiteCloud, server_id: str, project_id: str, network_ids: list[str], groups: list[str]) -> list[str]:
    group_ids = [g.id for g in site.security_groups.values() if g.project_id == project_id and g.name in groups]
    port_ids = []
    for network_id in network_ids:
        try:
            subnet_id, ip = site.allocate_ip(network_id)
        except IpExhausted as exc:
            raise ApiError(400, f"No more IP addresses available on network {network_id}.") from exc
        mac = "fa:16:3e:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(3))
        port = Port(new_id(), network_id, project_id, server_id, "compute:nova", mac, [(subnet_id, ip)], group_ids)
        site.ports[port.id] = port
        port_ids.append(port.id)
    return port_ids


def build_server(
    site: SiteCloud, token: Token, body: dict[str, Any], fault_kind: str = "", fault_message: str | None = None
) -> Server:
    """Validate a create-server body against the site and, if all is well, record the new server."""
    project_id = token.project_id or ""
    name = body.get("name")
    if not name or not isinstance(name, str):
        raise ApiError(400, "Invalid input for field/attribute name. Value: None. None is not of type 'string'")
    with site.lock:
        flavor = _flavor(site, body)
        image_id = _image_id(site, body, project_id, flavor)
        key_name = body.get("key_name")
        if key_name and (token.user_id, key_name) not in site.keypairs:
            raise ApiError(400, "Invalid key_name provided.")
        user_data = _user_data(body)
        network_ids = _network_ids(site, body, project_id)
        groups = _security_groups(site, body, project_id)
        _check_quota(site, project_id, flavor)
        server_id = new_id()
        server = Server(
            id=server_id,
            name=name,
            project_id=project_id,
            user_id=token.user_id,
            flavor_id=flavor.id,
            image_id=image_id,
            key_name=key_name,
            user_data=user_data,
            metadata={str(k): str(v) for k, v in (body.get("metadata") or {}).items()},
            tags=[str(t) for t in body.get("tags") or []],
            port_ids=[],
            security_groups=groups,
            created=time.time(),
            boot_delay=site.spec.boot_delay,
            fault_mode={"stuck": "stuck", "server_error": "error"}.get(fault_kind, ""),
            fault_message=fault_message or NO_VALID_HOST,
        )
        server.port_ids = _plug(site, server_id, project_id, network_ids, groups)
        site.servers[server.id] = server
    return server
