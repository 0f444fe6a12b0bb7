"""The federation description (`sites.yaml` / `--sites FILE`) as typed models, with site defaults merged in.

The spec is static: what each site offers. What happens at run time (servers, floating IPs, tokens) lives in
`state.py`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from execplanner.errors import ExecPlannerError

FaultKind = Literal["error", "timeout", "slow", "quota", "stuck", "server_error", "pool_empty", "pause"]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class QuotaSpec(_Spec):
    """How many of each quota-bound resource a project may have (`quota:`); zeroed, also how many it uses
    (`SiteCloud.usage`), so that every such resource is declared once, here. `ram` in MiB as Nova counts it;
    `volumes` and `gigabytes` (GiB) are Cinder's, with Cinder's defaults; -1 means unlimited for those two."""

    instances: int = 10
    cores: int = 40
    ram: int = 81920
    key_pairs: int = 100
    floating_ips: int = 5
    security_groups: int = 10
    security_group_rules: int = 100
    ports: int = 50
    volumes: int = 10
    gigabytes: int = 1000

    @classmethod
    def zero(cls) -> QuotaSpec:
        """Nothing of anything: the start of a usage count."""
        return cls(**dict.fromkeys(cls.model_fields, 0))


class VoSpec(_Spec):
    name: str
    project_id: str
    simulated: bool = Field(False, description="True when the real site file does not list this VO.")
    quota: dict[str, int] = Field(
        default_factory=dict, description="This VO's project's quota keys that differ from the site's `quota:`."
    )


class FlavorSpec(_Spec):
    name: str
    vcpus: int
    ram: int
    disk: int
    ephemeral: int = 0
    swap: int = 0
    is_public: bool = True
    extra_specs: dict[str, str] = Field(default_factory=dict)
    id: str | None = None


class ImageSpec(_Spec):
    name: str
    visibility: Literal["public", "private", "community", "shared"] = "public"
    owner_vo: str | None = Field(None, description="VO whose project owns a private/shared image.")
    member_vos: list[str] = Field(default_factory=list, description="VOs a shared image is shared with.")
    min_disk: int = 0
    min_ram: int = 0
    disk_format: str = "qcow2"
    size: int = 2361393152
    properties: dict[str, str] = Field(default_factory=dict)
    id: str | None = None


class AllocationPool(_Spec):
    start: str
    end: str


class SubnetSpec(_Spec):
    name: str
    cidr: str
    gateway: str | None = None
    allocation_pools: list[AllocationPool] = Field(default_factory=list)


class NetworkSpec(_Spec):
    """A network that exists once for the whole site (external, provider or shared)."""

    name: str
    external: bool = False
    shared: bool = False
    provider: dict[str, Any] = Field(default_factory=dict)
    subnets: list[SubnetSpec] = Field(default_factory=list)
    router_to: str | None = Field(None, description="External network a site router connects this one to.")


class ProjectNetworkSpec(_Spec):
    """A private network created for every project (VO) of the site, optionally routed to the external net."""

    name: str
    cidr: str
    router: bool = True


class FaultSpec(_Spec):
    """A fault rule. `call` is a glob over call names such as `compute.servers.create` (see docs/simcloud.md)."""

    call: str = "*"
    kind: FaultKind = "error"
    status: int | None = None
    seconds: float = 0.0
    times: int | None = Field(None, description="How many calls it hits; None = until cleared.")
    message: str | None = None


class SiteSpec(_Spec):
    name: str
    vos: list[VoSpec]
    boot_delay: float = 0.2
    response_delay: float = 0.0
    token_ttl: float = 3600
    region: str = "RegionOne"
    quota: QuotaSpec = Field(default_factory=QuotaSpec)
    block_storage: bool = Field(True, description="False: the site runs no Cinder (no volumes at all).")
    oidc_federation: bool = Field(
        True,
        description="False: the site's Keystone has no egi.eu/openid federation (as CREODIAS): Check-in tokens are "
        "refused, only application credentials (and password users) authenticate.",
    )
    volume_delay: float = Field(0.1, description="Seconds a new volume stays `creating` before `available`.")
    flavors: list[FlavorSpec] = Field(default_factory=list)
    images: list[ImageSpec] = Field(default_factory=list)
    networks: list[NetworkSpec] = Field(default_factory=list)
    project_network: ProjectNetworkSpec | None = None
    faults: list[FaultSpec] = Field(default_factory=list)
    expected: dict[str, Any] = Field(default_factory=dict, description="What a classifier should conclude.")

    @model_validator(mode="after")
    def _check_vo_quotas(self) -> SiteSpec:
        for vo in self.vos:
            self.quota_for(vo)  # unknown keys and non-integers fail here, at load time
        return self

    @property
    def vo_projects(self) -> dict[str, str]:
        return {vo.name: vo.project_id for vo in self.vos}

    def quota_for(self, vo: VoSpec) -> QuotaSpec:
        """The site's quota with the VO's own keys over it."""
        return QuotaSpec.model_validate({**self.quota.model_dump(), **vo.quota})


class UserSpec(_Spec):
    """An OIDC access token the simulated EGI Check-in knows, and the user behind it."""

    token: str
    name: str
    entitlements: list[str] = Field(default_factory=list)
    expired: bool = False
    expires_at: float | None = Field(None, description="Unix time after which Keystone refuses the token.")


class PasswordUserSpec(_Spec):
    name: str
    password: str
    vos: list[str] = Field(default_factory=list)


class FederationSpec(_Spec):
    version: int = 1
    identity_provider: str = "egi.eu"
    protocol: str = "openid"
    demo_token: str = "sim-demo-token"
    users: list[UserSpec] = Field(default_factory=list)
    password_users: list[PasswordUserSpec] = Field(default_factory=list)
    sites: list[SiteSpec]

    @model_validator(mode="before")
    @classmethod
    def _merge_defaults(cls, data: Any) -> Any:
        """Sites inherit `defaults:`; a site's own `quota:` keys override the default quota key by key."""
        if not isinstance(data, dict) or "defaults" not in data:
            return data
        data = dict(data)
        defaults = data.pop("defaults") or {}
        merged = []
        for site in data.get("sites", []):
            site = dict(site)
            for key, value in defaults.items():
                if key == "quota":
                    site["quota"] = {**value, **(site.get("quota") or {})}
                else:
                    site.setdefault(key, value)
            merged.append(site)
        data["sites"] = merged
        return data

    def site(self, name: str) -> SiteSpec:
        for site in self.sites:
            if site.name == name:
                return site
        raise KeyError(name)

    @property
    def all_vos(self) -> list[str]:
        return sorted({vo.name for site in self.sites for vo in site.vos})


# libyaml's parser when PyYAML has it: the same documents, ~5x faster (0.09 -> 0.02 s for the bundled sites.yaml,
# read again by every simulator a test starts)
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_federation(path: str | Path | None = None) -> FederationSpec:
    """Read a federation file; None reads the bundled default `sites.yaml`."""
    if path is None:
        text = resources.files("execplanner.simcloud").joinpath("sites.yaml").read_text(encoding="utf-8")
        origin = "bundled sites.yaml"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ExecPlannerError(f"cannot read federation file {path}: {exc.strerror}") from exc
        origin = str(path)
    try:
        return FederationSpec.model_validate(yaml.load(text, Loader=_SAFE_LOADER))  # noqa: S506 - a safe loader
    except (yaml.YAMLError, ValueError) as exc:
        raise ExecPlannerError(f"invalid federation file {origin}: {exc}") from exc
