"""Read one site's flavors, images, networks and quotas (compute, network, block storage) through openstacksdk,
as one VO's project sees them.

This is one of the two places that talk to OpenStack (the other is `cloud/`). It turns SDK resources into
`*Facts` and hands them to `classify`; it never decides what anything is itself. Errors are turned into a
site status (auth-error vs unreachable) with a message that never holds the token.
"""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from execplanner.catalogue.classify import (
    FlavorFacts,
    ImageFacts,
    NetworkFacts,
    classify_flavor,
    classify_image,
    classify_networks,
)
from execplanner.catalogue.model import Quota, QuotaItem, Site, SiteStatus, SiteVO

_MAX_ERROR_CHARS = 300
_REFUSED_TEXT = re.compile(r"\(HTTP 40[13]\)|\b40[13]\b.*(?:Unauthori[sz]ed|Forbidden)", re.IGNORECASE)
VOS_AT_ONCE = 4  # parallel VO projects per site: faster, yet gentle on one Keystone


@dataclass(frozen=True)
class SiteTarget:
    """A site to discover: where its Keystone is and which VO projects to look at."""

    name: str
    endpoint: str
    vos: dict[str, str]  # vo -> project_id
    protocol: str = "openid"
    identity_provider: str = "egi.eu"
    country: str | None = None
    operator: str | None = None


@dataclass(frozen=True)
class Credentials:
    """The OIDC access token; kept out of repr so it cannot leak through a log of this object."""

    access_token: str = field(repr=False)

    def scrub(self, text: str) -> str:
        """Remove the token from text that may echo a request (error bodies, URLs)."""
        return text.replace(self.access_token, "***") if self.access_token else text


ProgressCallback = Callable[[str, str], None]  # (site name, step) -> None


def _noop(site: str, step: str) -> None:
    return None


# ---------------------------------------------------------------------------------------------------- errors


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and what it wraps (openstacksdk wraps keystoneauth's errors in SDKException)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _refused(exc: BaseException) -> bool:
    from keystoneauth1 import exceptions as ks_exc
    from openstack import exceptions as os_exc

    if isinstance(exc, ks_exc.Unauthorized | ks_exc.Forbidden | ks_exc.AuthorizationFailure):
        return True
    if isinstance(exc, ks_exc.HttpError) and exc.http_status in (401, 403):
        return True
    if isinstance(exc, os_exc.HttpException) and exc.status_code in (401, 403):
        return True
    return isinstance(exc, os_exc.SDKException) and _REFUSED_TEXT.search(str(exc)) is not None


def failure_status(exc: BaseException) -> SiteStatus:
    """401/403 from Keystone or a service: the token was refused; anything else: the site is unusable."""
    return SiteStatus.AUTH_ERROR if any(_refused(e) for e in _causes(exc)) else SiteStatus.UNREACHABLE


def failure_message(exc: BaseException, credentials: Credentials) -> str:
    """One line for a human, never the token, never a stack trace."""
    from openstack import exceptions as os_exc

    if isinstance(exc, os_exc.SDKException):
        text = str(exc)
    elif isinstance(exc, LookupError | ValueError | TypeError | AttributeError):
        text = f"unexpected answer from the site ({type(exc).__name__}: {exc})"
    else:
        text = f"{type(exc).__name__}: {exc}"
    text = credentials.scrub(" ".join(text.split()))
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 1] + "…"


# ---------------------------------------------------------------------------------------------------- facts


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _flavor_facts(conn: Any) -> list[FlavorFacts]:
    facts: list[FlavorFacts] = []
    for flavor in conn.compute.flavors(details=True):
        specs = flavor.extra_specs
        if specs is None:  # older microversion: one more call per flavor
            specs = conn.compute.fetch_flavor_extra_specs(flavor).extra_specs or {}
        facts.append(
            FlavorFacts(
                id=str(flavor.id),
                name=str(flavor.name or flavor.id),
                vcpus=_int(flavor.vcpus),
                ram=_int(flavor.ram),
                disk=_int(flavor.disk),
                ephemeral=_int(flavor.ephemeral),
                extra_specs={str(k): str(v) for k, v in specs.items()},
            )
        )
    return facts


_IMAGE_FIELDS = ("os_distro", "os_version", "os_type", "architecture")


def _image_facts(conn: Any) -> list[ImageFacts]:
    facts: list[ImageFacts] = []
    seen: set[str] = set()
    # Glance lists community images only when asked for them; sites publish some images that way
    for image in itertools.chain(conn.image.images(), conn.image.images(visibility="community")):
        if (image.status or "active") != "active" or image.id in seen:
            continue
        seen.add(image.id)
        properties: dict[str, object] = dict(image.properties or {})
        for name in _IMAGE_FIELDS:
            value = getattr(image, name, None)
            if value is not None:
                properties[name] = value
        if image.tags:
            properties["tags"] = list(image.tags)
        facts.append(
            ImageFacts(
                id=str(image.id),
                name=str(image.name or image.id),
                properties=properties,
                min_disk=_int(image.min_disk),
                min_ram=_int(image.min_ram),
            )
        )
    return facts


def _network_facts(conn: Any) -> list[NetworkFacts]:
    cidrs: dict[str, list[str]] = {}
    for subnet in conn.network.subnets():
        if subnet.cidr:
            cidrs.setdefault(str(subnet.network_id), []).append(str(subnet.cidr))
    return [
        NetworkFacts(
            id=str(net.id),
            name=str(net.name or net.id),
            external=bool(net.is_router_external),
            shared=bool(net.is_shared),
            project_id=net.project_id,
            cidrs=tuple(cidrs.get(str(net.id), ())),
            provider_type=net.provider_network_type,
        )
        for net in conn.network.networks()
    ]


def _floating_ip_pools(conn: Any) -> set[str]:
    """Networks the project already draws floating IPs from, or routes out through."""
    pools = {str(ip.floating_network_id) for ip in conn.network.ips() if ip.floating_network_id}
    for router in conn.network.routers():
        gateway = router.external_gateway_info or {}
        if gateway.get("network_id"):
            pools.add(str(gateway["network_id"]))
    return pools


def _limit(value: Any) -> int | None:
    number = _int(value, -1)
    return None if number < 0 else number


NO_BLOCK_STORAGE = QuotaItem(limit=0, in_use=0)


def _block_storage_quota(conn: Any) -> tuple[QuotaItem, QuotaItem]:
    """(volumes, GiB) from Cinder's limits. A site whose catalogue lists no block storage gets limit 0 for both:
    it cannot give a volume, which is not the same as unknown or unlimited (None). Other failures propagate."""
    from keystoneauth1 import exceptions as ks_exc
    from openstack import exceptions as os_exc

    try:
        absolute = conn.block_storage.get_limits().absolute
    except (os_exc.ServiceDisabledException, ks_exc.EndpointNotFound):
        return NO_BLOCK_STORAGE, NO_BLOCK_STORAGE
    volumes = QuotaItem(limit=_limit(absolute.max_total_volumes), in_use=_int(absolute.total_volumes_used))
    gigabytes = QuotaItem(limit=_limit(absolute.max_total_volume_gigabytes), in_use=_int(absolute.total_gigabytes_used))
    return volumes, gigabytes


def _quota(conn: Any, project_id: str) -> Quota:
    limits = conn.compute.get_limits().absolute
    quota = Quota(
        instances=QuotaItem(limit=_limit(limits.instances), in_use=_int(limits.instances_used)),
        cores=QuotaItem(limit=_limit(limits.total_cores), in_use=_int(limits.total_cores_used)),
        ram=QuotaItem(limit=_limit(limits.total_ram), in_use=_int(limits.total_ram_used)),
    )
    network_quota = conn.network.get_quota(project_id, details=True)
    fips = network_quota.floating_ips
    if isinstance(fips, dict):
        quota.floating_ips = QuotaItem(limit=_limit(fips.get("limit")), in_use=_int(fips.get("used")))
    else:
        quota.floating_ips = QuotaItem(limit=_limit(fips), in_use=0)
    quota.volumes, quota.gigabytes = _block_storage_quota(conn)
    return quota


# ---------------------------------------------------------------------------------------------------- discovery


_PLUGIN_LOCK = threading.Lock()
_plugin_loaded = False


def _load_auth_plugin() -> None:
    """Find keystoneauth's OIDC plugin once, before many threads connect at the same moment.

    keystoneauth finds it through stevedore, which scans every installed package's entry points the first time
    and keeps the result; threads that all connect at once would each scan (a site's VOs, every site of a build).
    """
    global _plugin_loaded
    with _PLUGIN_LOCK:
        if not _plugin_loaded:
            from keystoneauth1.loading import get_plugin_loader

            get_plugin_loader("v3oidcaccesstoken")
            _plugin_loaded = True


def connect(
    target: SiteTarget,
    project_id: str,
    credentials: Credentials,
    timeout: float,
    discovery_cache: dict[str, Any] | None = None,
) -> Any:
    """An openstacksdk connection scoped to the VO's project through Keystone OIDC federation.

    `discovery_cache`, shared by the connections of one site, keeps the services' version documents (fetched
    without a token, keyed by URL) so each VO's connection does not ask for them again.
    """
    import openstack

    _load_auth_plugin()
    region = openstack.config.get_cloud_region(
        load_yaml_config=False,
        load_envvars=False,
        auth_type="v3oidcaccesstoken",
        auth_url=target.endpoint,
        identity_provider=target.identity_provider,
        protocol=target.protocol,
        access_token=credentials.access_token,
        project_id=project_id,
        api_timeout=timeout,
        timeout=timeout,
    )
    if discovery_cache is not None:
        region._discovery_cache = discovery_cache  # what keystoneauth's Session(discovery_cache=) is for
    return openstack.connection.Connection(config=region)


def discover_vo(
    target: SiteTarget,
    vo: str,
    project_id: str,
    credentials: Credentials,
    timeout: float,
    progress: ProgressCallback = _noop,
    discovery_cache: dict[str, Any] | None = None,
) -> SiteVO:
    """Everything one VO can use on one site, classified. Raises what the SDK raises."""
    conn = connect(target, project_id, credentials, timeout, discovery_cache)
    try:
        progress(target.name, f"{vo}: authenticating")
        conn.authorize()
        progress(target.name, f"{vo}: flavors")
        flavors = [classify_flavor(f) for f in _flavor_facts(conn)]
        progress(target.name, f"{vo}: images")
        images = [classify_image(i) for i in _image_facts(conn)]
        progress(target.name, f"{vo}: networks")
        networks = _network_facts(conn)
        pools = _floating_ip_pools(conn)
        progress(target.name, f"{vo}: quotas")
        quota = _quota(conn, project_id)
    finally:
        conn.close()
    fips_allowed = quota.floating_ips.limit is None or quota.floating_ips.limit > 0
    return SiteVO(
        vo=vo,
        project_id=project_id,
        flavors=sorted(flavors, key=lambda f: (f.vcpus, f.ram, f.name)),
        images=sorted(images, key=lambda i: i.name),
        networks=classify_networks(networks, project_id, pools, fips_allowed),
        quota=quota,
    )


def _discover_vo_or_record(
    target: SiteTarget,
    vo: str,
    project_id: str,
    credentials: Credentials,
    timeout: float,
    progress: ProgressCallback,
    discovery_cache: dict[str, Any],
) -> SiteVO:
    try:
        return discover_vo(target, vo, project_id, credentials, timeout, progress, discovery_cache)
    except Exception as exc:  # noqa: BLE001 - any failure of one VO must not stop the others
        return SiteVO(vo=vo, project_id=project_id, status=failure_status(exc), error=failure_message(exc, credentials))


def discover_site(
    target: SiteTarget, credentials: Credentials, timeout: float, progress: ProgressCallback = _noop
) -> Site:
    """All requested VOs of one site, a few at a time; a failing VO is recorded, not raised."""
    items = sorted(target.vos.items())
    cache: dict[str, Any] = {}  # the site's version documents, shared by its VOs' connections
    if len(items) <= 1:
        vos = [_discover_vo_or_record(target, vo, pid, credentials, timeout, progress, cache) for vo, pid in items]
        return site_from_vos(target, vos)
    with cf.ThreadPoolExecutor(max_workers=min(VOS_AT_ONCE, len(items)), thread_name_prefix="discover-vo") as pool:
        futures = [
            pool.submit(_discover_vo_or_record, target, vo, pid, credentials, timeout, progress, cache)
            for vo, pid in items
        ]
        vos = [f.result() for f in futures]
    return site_from_vos(target, vos)


def site_from_vos(target: SiteTarget, vos: list[SiteVO]) -> Site:
    failed = [v for v in vos if v.status is not SiteStatus.OK]
    status, error = SiteStatus.OK, None
    if vos and len(failed) == len(vos):
        status, error = failed[0].status, failed[0].error
    return Site(
        name=target.name,
        endpoint=target.endpoint,
        country=target.country,
        operator=target.operator,
        status=status,
        error=error,
        vos=vos,
    )
