"""The resource catalogue as typed data: what can run where, per EGI site and VO.

The planner reads a `Catalogue` and never calls a cloud; everything it needs (flavors with GPUs, images with
OS and appliances, which network is public and how VMs reach it, quotas) is here, already classified.
Reading and writing files lives in `_files.py`; this module only defines the shapes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1.0"


class _Strict(BaseModel):
    """Unknown fields are errors: a typo in a hand-edited catalogue must not pass silently."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Gpu(_Strict):
    """GPUs a flavor gives a VM, as read from extra specs or the flavor name."""

    count: int = Field(ge=1, description="Number of GPUs attached to a VM of this flavor.")
    vendor: str | None = Field(None, description="Vendor as the site names it, e.g. NVIDIA.")
    model: str | None = Field(None, description="Model as the site names it, e.g. Tesla V100, A100.")


class Flavor(_Strict):
    id: str
    name: str
    vcpus: int = Field(ge=0)
    ram: int = Field(ge=0, description="MiB.")
    disk: int = Field(ge=0, description="Root disk, GiB (0: the image's size, boot from volume).")
    ephemeral: int = Field(0, ge=0, description="Ephemeral disk, GiB.")
    gpu: Gpu | None = None
    extra_specs: dict[str, str] = Field(default_factory=dict)
    classified_by: list[str] = Field(
        default_factory=list,
        description="Evidence for the GPU decision, e.g. 'gpu:extra_spec:Accelerator'.",
    )


class Image(_Strict):
    id: str
    name: str
    os_family: str | None = Field(None, description="linux | windows | ...")
    os_distro: str | None = Field(None, description="Lower-case distribution, e.g. ubuntu, almalinux, centos.")
    os_version: str | None = Field(None, description="e.g. 22.04, 9, 7.")
    appliances: list[str] = Field(default_factory=list, description="Software baked in: docker, jupyter, ...")
    architecture: str | None = Field(None, description="e.g. x86_64, aarch64.")
    min_disk: int = Field(0, ge=0, description="GiB.")
    min_ram: int = Field(0, ge=0, description="MiB.")
    classified_by: list[str] = Field(
        default_factory=list, description="Evidence per decision, e.g. 'os:property:os_distro', 'os:name'."
    )


class NetworkRole(StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"
    VO_PRIVATE = "vo-private"


class PublicAccess(StrEnum):
    """How a VM gets a public address through a public network."""

    FLOATING_IP = "floating-ip"  # attach the VM to a private network, then associate a floating IP from this one
    DIRECT = "direct"  # attach the VM straight to this network


class Network(_Strict):
    id: str
    name: str
    role: NetworkRole
    access: PublicAccess | None = Field(None, description="Only for public networks.")
    evidence: list[str] = Field(
        default_factory=list,
        description="Why the role was chosen: router:external, floating-ip-pool, public-addresses, shared, "
        "project-owned, name-pattern:<pattern>.",
    )
    external: bool = Field(False, description="Neutron router:external.")
    shared: bool = False
    cidrs: list[str] = Field(default_factory=list)


class QuotaItem(_Strict):
    limit: int | None = Field(None, description="None: unlimited (OpenStack -1) or unknown.")
    in_use: int = Field(0, ge=0)

    @property
    def available(self) -> int | None:
        """What is left, or None when unlimited."""
        return None if self.limit is None else max(self.limit - self.in_use, 0)


class Quota(_Strict):
    instances: QuotaItem = Field(default_factory=QuotaItem)
    cores: QuotaItem = Field(default_factory=QuotaItem)
    ram: QuotaItem = Field(default_factory=QuotaItem, description="MiB.")
    floating_ips: QuotaItem = Field(default_factory=QuotaItem)
    volumes: QuotaItem = Field(default_factory=QuotaItem, description="Block-storage (Cinder) volumes.")
    gigabytes: QuotaItem = Field(default_factory=QuotaItem, description="Block-storage (Cinder) GiB.")


class SiteStatus(StrEnum):
    OK = "ok"
    UNREACHABLE = "unreachable"
    AUTH_ERROR = "auth-error"


class SiteVO(_Strict):
    """What one VO's project can use on one site."""

    vo: str = Field(min_length=1, max_length=128)
    project_id: str
    status: SiteStatus = SiteStatus.OK
    error: str | None = None
    flavors: list[Flavor] = Field(default_factory=list)
    images: list[Image] = Field(default_factory=list)
    networks: list[Network] = Field(
        default_factory=list, description="Public networks first, strongest evidence first."
    )
    quota: Quota | None = None

    def public_network(self) -> Network | None:
        """The network to reach the Internet through (the best-evidenced public one), if any."""
        return next((n for n in self.networks if n.role is NetworkRole.PUBLIC), None)

    def private_network(self) -> Network | None:
        """The VO's own network if it has one, else a shared private one (None: VMs go on the public one)."""
        for role in (NetworkRole.VO_PRIVATE, NetworkRole.PRIVATE):
            found = next((n for n in self.networks if n.role is role), None)
            if found is not None:
                return found
        return None

    def attach_network(self) -> Network | None:
        """Where a VM's port goes: the public network when access is direct, else the VO's private one."""
        public = self.public_network()
        if public is not None and public.access is PublicAccess.DIRECT:
            return public
        return self.private_network() or public

    def flavor(self, name_or_id: str) -> Flavor | None:
        return next((f for f in self.flavors if name_or_id in (f.id, f.name)), None)

    def image(self, name_or_id: str) -> Image | None:
        return next((i for i in self.images if name_or_id in (i.id, i.name)), None)


class Site(_Strict):
    name: str = Field(description="GOCDB site name.", min_length=1, max_length=128)
    endpoint: str = Field(description="Keystone v3 URL.")
    country: str | None = None
    operator: str | None = None
    status: SiteStatus = SiteStatus.OK
    error: str | None = Field(None, description="Why the site is not ok; never holds a secret.")
    vos: list[SiteVO] = Field(default_factory=list)

    def vo(self, name: str) -> SiteVO | None:
        return next((v for v in self.vos if v.vo == name), None)


def _now() -> datetime:
    return datetime.now(UTC)


class Catalogue(_Strict):
    """A versioned, schema-validated snapshot of the federation. Load with `Catalogue.load(path)`."""

    schema_version: str = SCHEMA_VERSION
    generated_at: datetime = Field(default_factory=_now)
    source: str = Field(description="Where it came from, e.g. 'egi-fedcloud' or 'simcloud http://...'; no secrets.")
    sites: list[Site] = Field(default_factory=list)

    def site(self, name: str) -> Site | None:
        return next((s for s in self.sites if s.name == name), None)

    def sites_for_vo(self, vo: str, *, include_unavailable: bool = False) -> list[tuple[Site, SiteVO]]:
        """Sites supporting `vo`, with that VO's view of each; by default only the reachable ones."""
        found: list[tuple[Site, SiteVO]] = []
        for site in self.sites:
            site_vo = site.vo(vo)
            if site_vo is None:
                continue
            if include_unavailable or (site.status is SiteStatus.OK and site_vo.status is SiteStatus.OK):
                found.append((site, site_vo))
        return found

    def vos(self) -> list[str]:
        return sorted({v.vo for s in self.sites for v in s.vos})

    # Files and documents: implemented in _files.py so this module stays about shapes.
    @classmethod
    def load(cls, path: Path | str) -> Catalogue:
        """Read and validate a YAML or JSON catalogue; `CatalogueError` names the file and field path."""
        from execplanner.catalogue._files import load_catalogue

        return load_catalogue(Path(path))

    def save(self, path: Path | str) -> None:
        """Write as YAML or JSON, chosen by the file extension."""
        from execplanner.catalogue._files import save_catalogue

        save_catalogue(self, Path(path))

    def to_document(self) -> dict[str, Any]:
        """A plain JSON-compatible document (for any codec: JSON, YAML, XML)."""
        return self.model_dump(mode="json", exclude_none=True)

    @classmethod
    def from_document(cls, document: Any, *, origin: str = "<document>") -> Catalogue:
        """Validate a plain document; `CatalogueError` names `origin` and the offending field's path."""
        from execplanner.catalogue._files import catalogue_from_document

        return catalogue_from_document(document, origin)
