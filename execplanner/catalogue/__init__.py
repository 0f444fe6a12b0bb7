"""The resource catalogue: what can run on which EGI FedCloud site, for which VO (see docs/catalogue.md).

Public surface: `Catalogue` (load/save/validate), its parts, and `default_catalogue_path()`.
Building (which talks to OpenStack) lives in `build`/`discover` and is imported only when used.
"""

from __future__ import annotations

from pathlib import Path

from execplanner.catalogue.model import (
    SCHEMA_VERSION,
    Catalogue,
    Flavor,
    Gpu,
    Image,
    Network,
    NetworkRole,
    PublicAccess,
    Quota,
    QuotaItem,
    Site,
    SiteStatus,
    SiteVO,
)


def default_catalogue_path() -> Path:
    """The catalogue bundled with the package, generated from the simulator (runs with no cloud credentials)."""
    return Path(__file__).with_name("default.yaml")


__all__ = [
    "SCHEMA_VERSION",
    "Catalogue",
    "Flavor",
    "Gpu",
    "Image",
    "Network",
    "NetworkRole",
    "PublicAccess",
    "Quota",
    "QuotaItem",
    "Site",
    "SiteStatus",
    "SiteVO",
    "default_catalogue_path",
]
