"""Neutron v2.0: networks (external, shared, provider, per-VO private), subnets, routers, ports, security groups
and floating IPs with quota, pool exhaustion and router reachability as Neutron reports them."""

from __future__ import annotations

import time
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from execplanner.simcloud._http import ApiError, Call, Service, iso, sim_route
from execplanner.simcloud.records import FloatingIP, Network, Port, SecurityGroup, SecurityGroupRule, new_id
from execplanner.simcloud.state import IpExhausted, SiteCloud

EXTENSIONS = (
    "external-net",
    "router",
    "extraroute",
    "security-group",
    "quotas",
    "quota_details",
    "port-security",
    "provider",
    "standard-attr-tag",
    "dns-integration",
    "fip-port-details",
    "subnet_allocation",
)
_PAGING = {"limit", "marker", "page_reverse", "fields", "sort_key", "sort_dir"}


async def versions(call: Call) -> Response:
    link = [{"rel": "self", "href": f"{call.base}/network/v2.0/"}]
    return JSONResponse({"versions": [{"id": "v2.0", "status": "CURRENT", "links": link}]})


async def version(call: Call) -> Response:
    resources = ["networks", "subnets", "ports", "routers", "floatingips", "security-groups"]
    return JSONResponse({"resources": [{"name": r[:-1], "collection": r, "links": []} for r in resources]})


async def extensions(call: Call) -> Response:
    docs = [
        {"alias": a, "name": a, "description": a, "updated": "2013-01-01T00:00:00-00:00", "links": []}
        for a in EXTENSIONS
    ]
    return JSONResponse({"extensions": docs})


def _matches(doc: dict[str, Any], key: str, values: list[str]) -> bool:
    value = doc.get(key)
    as_text = str(value).lower() if isinstance(value, bool) else str(value)
    return as_text in [v.lower() if isinstance(value, bool) else v for v in values]


def _filtered(call: Call, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Neutron's list filters: any attribute, equality, repeatable."""
    for key in set(call.request.query_params) - _PAGING:
        values = call.request.query_params.getlist(key)
        docs = [d for d in docs if key not in d or _matches(d, key, values)]
    return docs


def _stamp(doc: dict[str, Any], project_id: str) -> dict[str, Any]:
    doc.update(
        {
            "project_id": project_id,
            "tenant_id": project_id,
            "created_at": "2024-01-15T10:00:00Z",
            "updated_at": "2024-01-15T10:00:00Z",
            "revision_number": 1,
            "tags": [],
            "description": "",
        }
    )
    return doc


# ---------------------------------------------------------------------- networks, subnets, routers, ports
def network_doc(site: SiteCloud, net: Network) -> dict[str, Any]:
    doc = {
        "id": net.id,
        "name": net.name,
        "status": "ACTIVE",
        "admin_state_up": True,
        "shared": net.shared,
        "router:external": net.external,
        "subnets": list(net.subnet_ids),
        "mtu": 1450,
        "availability_zones": ["nova"],
        "port_security_enabled": True,
        "is_default": net.external,
        "provider:network_type": net.provider.get("network_type", "flat" if net.external else "vxlan"),
        "provider:physical_network": net.provider.get("physical_network"),
        "provider:segmentation_id": net.provider.get("segmentation_id"),
    }
    return _stamp(doc, net.project_id)


def subnet_doc(site: SiteCloud, subnet_id: str) -> dict[str, Any]:
    sub = site.subnets[subnet_id]
    doc = {
        "id": sub.id,
        "name": sub.name,
        "network_id": sub.network_id,
        "cidr": sub.cidr,
        "ip_version": 4,
        "gateway_ip": sub.gateway,
        "enable_dhcp": True,
        "dns_nameservers": [],
        "host_routes": [],
        "allocation_pools": [{"start": s, "end": e} for s, e in sub.pools],
        "ipv6_ra_mode": None,
        "ipv6_address_mode": None,
        "subnetpool_id": None,
    }
    return _stamp(doc, sub.project_id)


def port_doc(port: Port) -> dict[str, Any]:
    doc = {
        "id": port.id,
        "name": port.name,
        "network_id": port.network_id,
        "device_id": port.device_id,
        "device_owner": port.device_owner,
        "mac_address": port.mac_address,
        "status": "ACTIVE",
        "admin_state_up": True,
        "fixed_ips": [{"subnet_id": s, "ip_address": ip} for s, ip in port.fixed_ips],
        "security_groups": list(port.security_group_ids),
        "port_security_enabled": True,
        "allowed_address_pairs": [],
        "binding:vnic_type": "normal",
    }
    return _stamp(doc, port.project_id)


async def list_networks(call: Call) -> Response:
    token = call.token()
    site = call.site
    docs = [network_doc(site, n) for n in site.networks.values() if site.network_visible(n, token.project_id or "")]
    return JSONResponse({"networks": _filtered(call, docs)})


async def show_network(call: Call) -> Response:
    token = call.token()
    net = call.site.networks.get(call.request.path_params["id"])
    if net is None or not call.site.network_visible(net, token.project_id or ""):
        raise ApiError(404, f"Network {call.request.path_params['id']} could not be found.", "NetworkNotFound")
    return JSONResponse({"network": network_doc(call.site, net)})


def _visible_subnets(call: Call) -> list[str]:
    project_id = call.token().project_id or ""
    site = call.site
    return [s.id for s in site.subnets.values() if site.network_visible(site.networks[s.network_id], project_id)]


async def list_subnets(call: Call) -> Response:
    docs = [subnet_doc(call.site, sid) for sid in _visible_subnets(call)]
    return JSONResponse({"subnets": _filtered(call, docs)})


async def show_subnet(call: Call) -> Response:
    sid = call.request.path_params["id"]
    if sid not in _visible_subnets(call):
        raise ApiError(404, f"Subnet {sid} could not be found.", "SubnetNotFound")
    return JSONResponse({"subnet": subnet_doc(call.site, sid)})


def router_doc(site: SiteCloud, router_id: str) -> dict[str, Any]:
    router = site.routers[router_id]
    gateway = None
    if router.external_network_id:
        ext_subnet = site.networks[router.external_network_id].subnet_ids[0]
        gateway = {
            "network_id": router.external_network_id,
            "enable_snat": True,
            "external_fixed_ips": [{"subnet_id": ext_subnet, "ip_address": site.subnets[ext_subnet].gateway}],
        }
    doc = {
        "id": router.id,
        "name": router.name,
        "status": "ACTIVE",
        "admin_state_up": True,
        "external_gateway_info": gateway,
        "routes": [],
        "distributed": False,
        "ha": False,
        "availability_zones": ["nova"],
    }
    return _stamp(doc, router.project_id)


async def list_routers(call: Call) -> Response:
    project_id = call.token().project_id
    docs = [router_doc(call.site, r.id) for r in call.site.routers.values() if r.project_id == project_id]
    return JSONResponse({"routers": _filtered(call, docs)})


async def list_ports(call: Call) -> Response:
    project_id = call.token().project_id
    with call.site.lock:
        docs = [port_doc(p) for p in call.site.ports.values() if p.project_id == project_id]
    return JSONResponse({"ports": _filtered(call, docs)})


async def show_port(call: Call) -> Response:
    project_id = call.token().project_id
    port = call.site.ports.get(call.request.path_params["id"])
    if port is None or port.project_id != project_id:
        raise ApiError(404, f"Port {call.request.path_params['id']} could not be found.", "PortNotFound")
    return JSONResponse({"port": port_doc(port)})


# ---------------------------------------------------------------------- floating IPs
def fip_doc(site: SiteCloud, fip: FloatingIP) -> dict[str, Any]:
    port = site.ports.get(fip.port_id or "")
    details = None
    if port is not None:
        details = {
            "name": port.name,
            "network_id": port.network_id,
            "mac_address": port.mac_address,
            "admin_state_up": True,
            "status": "ACTIVE",
            "device_id": port.device_id,
            "device_owner": port.device_owner,
        }
    doc: dict[str, Any] = {
        "id": fip.id,
        "floating_ip_address": fip.address,
        "floating_network_id": fip.network_id,
        "router_id": fip.router_id,
        "port_id": fip.port_id,
        "fixed_ip_address": fip.fixed_ip,
        "status": "ACTIVE" if fip.port_id else "DOWN",
        "port_details": details,
        "dns_domain": "",
        "dns_name": "",
        "port_forwardings": [],
    }
    doc = _stamp(doc, fip.project_id)
    doc["created_at"] = iso(fip.created)
    doc["description"] = fip.description
    return doc


def _own_fip(call: Call) -> FloatingIP:
    project_id = call.token().project_id
    fip = call.site.floating_ips.get(call.request.path_params["id"])
    if fip is None or fip.project_id != project_id:
        raise ApiError(404, f"Floating IP {call.request.path_params['id']} could not be found.", "FloatingIPNotFound")
    return fip


def _associate(site: SiteCloud, fip: FloatingIP, port_id: str | None, fixed_ip: str | None, project_id: str) -> None:
    if port_id is None:
        fip.port_id = fip.fixed_ip = fip.router_id = None
        return
    port = site.ports.get(port_id)
    if port is None or port.project_id != project_id:
        raise ApiError(404, f"Port {port_id} could not be found.", "PortNotFound")
    router = site.reachable_router(fip.network_id, port)
    if router is None:
        subnet = port.fixed_ips[0][0] if port.fixed_ips else "?"
        raise ApiError(
            404,
            f"External network {fip.network_id} is not reachable from subnet {subnet}.  Therefore, "
            f"cannot associate Port {port_id} with a Floating IP.",
            "ExternalGatewayForFloatingIPNotFound",
        )
    for other in site.floating_ips.values():
        if other.port_id == port_id and other.id != fip.id:
            raise ApiError(
                409,
                f"Cannot associate floating IP {fip.address} ({fip.id}) with port {port_id} using "
                f"fixed IP {other.fixed_ip}, as that fixed IP already has a floating IP on external "
                f"network {other.network_id}.",
                "FloatingIPPortAlreadyAssociated",
            )
    fip.port_id, fip.router_id = port_id, router.id
    fip.fixed_ip = fixed_ip or port.fixed_ips[0][1]


async def create_fip(call: Call) -> Response:
    token = call.project_token()
    project_id = token.project_id or ""
    body = (await call.body()).get("floatingip") or {}
    site = call.site
    with site.lock:
        net = site.networks.get(str(body.get("floating_network_id", "")))
        if net is None:
            raise ApiError(404, f"Network {body.get('floating_network_id')} could not be found.", "NetworkNotFound")
        if not net.external:
            raise ApiError(
                400, f"Bad floatingip request: Network {net.id} is not a valid external network.", "BadRequest"
            )
        if site.usage(project_id).floating_ips >= site.quota(project_id).floating_ips:
            raise ApiError(409, "Quota exceeded for resources: ['floatingip'].", "OverQuota")
        try:
            subnet_id, address = site.allocate_ip(net.id)
        except IpExhausted as exc:
            raise ApiError(
                409, f"No more IP addresses available on network {net.id}.", "IpAddressGenerationFailure"
            ) from exc
        fip = FloatingIP(
            new_id(),
            address,
            net.id,
            subnet_id,
            project_id,
            time.time(),
            description=str(body.get("description") or ""),
        )
        site.floating_ips[fip.id] = fip
        if body.get("port_id"):
            try:
                _associate(site, fip, body["port_id"], body.get("fixed_ip_address"), project_id)
            except ApiError:
                del site.floating_ips[fip.id]
                raise
        return JSONResponse({"floatingip": fip_doc(site, fip)}, status_code=201)


async def list_fips(call: Call) -> Response:
    project_id = call.token().project_id
    with call.site.lock:
        docs = [fip_doc(call.site, f) for f in call.site.floating_ips.values() if f.project_id == project_id]
    return JSONResponse({"floatingips": _filtered(call, docs)})


async def show_fip(call: Call) -> Response:
    with call.site.lock:
        return JSONResponse({"floatingip": fip_doc(call.site, _own_fip(call))})


async def update_fip(call: Call) -> Response:
    fip = _own_fip(call)
    body = (await call.body()).get("floatingip") or {}
    with call.site.lock:
        if "port_id" in body:
            _associate(call.site, fip, body["port_id"], body.get("fixed_ip_address"), fip.project_id)
        if "description" in body:
            fip.description = str(body["description"] or "")
        return JSONResponse({"floatingip": fip_doc(call.site, fip)})


async def delete_fip(call: Call) -> Response:
    fip = _own_fip(call)
    with call.site.lock:
        call.site.floating_ips.pop(fip.id, None)
    return Response(status_code=204)


# ---------------------------------------------------------------------- security groups
def rule_doc(rule: SecurityGroupRule) -> dict[str, Any]:
    doc = {
        "id": rule.id,
        "security_group_id": rule.security_group_id,
        "direction": rule.direction,
        "ethertype": rule.ethertype,
        "protocol": rule.protocol,
        "port_range_min": rule.port_range_min,
        "port_range_max": rule.port_range_max,
        "remote_ip_prefix": rule.remote_ip_prefix,
        "remote_group_id": rule.remote_group_id,
        "remote_address_group_id": None,
        "normalized_cidr": rule.remote_ip_prefix,
        "belongs_to_default_sg": False,
    }
    doc = _stamp(doc, rule.project_id)
    doc["description"] = rule.description
    return doc


def group_doc(group: SecurityGroup) -> dict[str, Any]:
    doc = {
        "id": group.id,
        "name": group.name,
        "stateful": True,
        "security_group_rules": [rule_doc(r) for r in group.rules],
    }
    doc = _stamp(doc, group.project_id)
    doc["description"] = group.description
    return doc


def _own_group(call: Call, group_id: str) -> SecurityGroup:
    project_id = call.token().project_id
    group = call.site.security_groups.get(group_id)
    if group is None or group.project_id != project_id:
        raise ApiError(404, f"Security group {group_id} does not exist", "SecurityGroupNotFound")
    return group


async def list_groups(call: Call) -> Response:
    project_id = call.token().project_id
    with call.site.lock:
        docs = [group_doc(g) for g in call.site.security_groups.values() if g.project_id == project_id]
    return JSONResponse({"security_groups": _filtered(call, docs)})


async def show_group(call: Call) -> Response:
    with call.site.lock:
        return JSONResponse({"security_group": group_doc(_own_group(call, call.request.path_params["id"]))})


async def create_group(call: Call) -> Response:
    project_id = call.project_token().project_id or ""
    body = (await call.body()).get("security_group") or {}
    site = call.site
    with site.lock:
        if site.usage(project_id).security_groups >= site.quota(project_id).security_groups:
            raise ApiError(409, "Quota exceeded for resources: ['security_group'].", "OverQuota")
        gid = new_id()
        rules = [SecurityGroupRule(new_id(), gid, project_id, "egress", e) for e in ("IPv4", "IPv6")]
        group = SecurityGroup(gid, str(body.get("name") or ""), str(body.get("description") or ""), project_id, rules)
        site.security_groups[gid] = group
        return JSONResponse({"security_group": group_doc(group)}, status_code=201)


async def delete_group(call: Call) -> Response:
    group = _own_group(call, call.request.path_params["id"])
    with call.site.lock:
        if group.name == "default":
            raise ApiError(
                409, "Insufficient rights for removing default security group.", "SecurityGroupCannotRemoveDefault"
            )
        if any(group.id in p.security_group_ids for p in call.site.ports.values()):
            raise ApiError(409, f"Security Group {group.id} in use.", "SecurityGroupInUse")
        call.site.security_groups.pop(group.id, None)
    return Response(status_code=204)


async def create_rule(call: Call) -> Response:
    body = (await call.body()).get("security_group_rule") or {}
    group = _own_group(call, str(body.get("security_group_id", "")))
    site = call.site
    with site.lock:
        if site.usage(group.project_id).security_group_rules >= site.quota(group.project_id).security_group_rules:
            raise ApiError(409, "Quota exceeded for resources: ['security_group_rule'].", "OverQuota")
        if body.get("direction") not in ("ingress", "egress"):
            raise ApiError(
                400,
                f"Invalid input for direction. Reason: {body.get('direction')!r} is not in ['ingress', 'egress'].",
                "HTTPBadRequest",
            )
        rule = SecurityGroupRule(
            new_id(),
            group.id,
            group.project_id,
            body["direction"],
            body.get("ethertype", "IPv4"),
            body.get("protocol"),
            body.get("port_range_min"),
            body.get("port_range_max"),
            body.get("remote_ip_prefix"),
            body.get("remote_group_id"),
            str(body.get("description") or ""),
        )
        duplicate = any(
            (r.direction, r.ethertype, r.protocol, r.port_range_min, r.port_range_max, r.remote_ip_prefix)
            == (
                rule.direction,
                rule.ethertype,
                rule.protocol,
                rule.port_range_min,
                rule.port_range_max,
                rule.remote_ip_prefix,
            )
            for r in group.rules
        )
        if duplicate:
            raise ApiError(409, "Security group rule already exists.", "SecurityGroupRuleExists")
        group.rules.append(rule)
        return JSONResponse({"security_group_rule": rule_doc(rule)}, status_code=201)


async def list_rules(call: Call) -> Response:
    project_id = call.token().project_id
    with call.site.lock:
        docs = [rule_doc(r) for g in call.site.security_groups.values() if g.project_id == project_id for r in g.rules]
    return JSONResponse({"security_group_rules": _filtered(call, docs)})


async def delete_rule(call: Call) -> Response:
    project_id = call.token().project_id
    rule_id = call.request.path_params["id"]
    with call.site.lock:
        for group in call.site.security_groups.values():
            if group.project_id == project_id and any(r.id == rule_id for r in group.rules):
                group.rules = [r for r in group.rules if r.id != rule_id]
                return Response(status_code=204)
    raise ApiError(404, f"Security group rule {rule_id} does not exist", "SecurityGroupRuleNotFound")


async def quotas(call: Call) -> Response:
    call.token()
    project_id = call.request.path_params["project_id"]
    with call.site.lock:
        quota, usage = call.site.quota(project_id), call.site.usage(project_id)
    pairs = {
        "floatingip": (quota.floating_ips, usage.floating_ips),
        "port": (quota.ports, usage.ports),
        "security_group": (quota.security_groups, usage.security_groups),
        "security_group_rule": (quota.security_group_rules, usage.security_group_rules),
        "network": (10, 0),
        "subnet": (10, 0),
        "router": (10, 0),
    }
    doc: dict[str, dict[str, int]] | dict[str, int]
    if call.request.url.path.endswith("/details.json") or call.request.url.path.endswith("/details"):
        doc = {k: {"limit": lim, "used": used, "reserved": 0} for k, (lim, used) in pairs.items()}
    else:
        doc = {k: lim for k, (lim, _) in pairs.items()}
    return JSONResponse({"quota": doc})


def routes() -> list[Route]:
    p = "/{site}/network"
    v = p + "/v2.0"
    r = sim_route
    n: Service = "network"
    table = [
        (p, versions, ["GET"], "network.versions"),
        (p + "/", versions, ["GET"], "network.versions"),
        (v, version, ["GET"], "network.version"),
        (v + "/", version, ["GET"], "network.version"),
        (v + "/extensions", extensions, ["GET"], "network.extensions"),
        (v + "/networks", list_networks, ["GET"], "network.networks.list"),
        (v + "/networks/{id}", show_network, ["GET"], "network.networks.get"),
        (v + "/subnets", list_subnets, ["GET"], "network.subnets.list"),
        (v + "/subnets/{id}", show_subnet, ["GET"], "network.subnets.get"),
        (v + "/routers", list_routers, ["GET"], "network.routers.list"),
        (v + "/ports", list_ports, ["GET"], "network.ports.list"),
        (v + "/ports/{id}", show_port, ["GET"], "network.ports.get"),
        (v + "/floatingips", create_fip, ["POST"], "network.floatingips.create"),
        (v + "/floatingips", list_fips, ["GET"], "network.floatingips.list"),
        (v + "/floatingips/{id}", show_fip, ["GET"], "network.floatingips.get"),
        (v + "/floatingips/{id}", update_fip, ["PUT"], "network.floatingips.update"),
        (v + "/floatingips/{id}", delete_fip, ["DELETE"], "network.floatingips.delete"),
        (v + "/security-groups", list_groups, ["GET"], "network.security_groups.list"),
        (v + "/security-groups", create_group, ["POST"], "network.security_groups.create"),
        (v + "/security-groups/{id}", show_group, ["GET"], "network.security_groups.get"),
        (v + "/security-groups/{id}", delete_group, ["DELETE"], "network.security_groups.delete"),
        (v + "/security-group-rules", list_rules, ["GET"], "network.security_group_rules.list"),
        (v + "/security-group-rules", create_rule, ["POST"], "network.security_group_rules.create"),
        (v + "/security-group-rules/{id}", delete_rule, ["DELETE"], "network.security_group_rules.delete"),
        (v + "/quotas/{project_id}", quotas, ["GET"], "network.quotas.get"),
        (v + "/quotas/{project_id}/details", quotas, ["GET"], "network.quotas.get"),
        (v + "/quotas/{project_id}/details.json", quotas, ["GET"], "network.quotas.get"),
    ]
    return [r(path, endpoint, methods, name, n) for path, endpoint, methods, name in table]
