"""Block-storage (Cinder) quotas discovered through openstacksdk into `Quota.volumes` and `Quota.gigabytes`."""

from __future__ import annotations

from execplanner.catalogue.build import build_catalogue
from execplanner.catalogue.model import Catalogue, QuotaItem, SiteStatus
from execplanner.catalogue.sources import sim_targets
from execplanner.simcloud import FederationSpec, SimFederation, load_federation
from execplanner.simcloud.connect import connect

VO = "vo.access.egi.eu"


def _quota(catalogue: Catalogue, site: str, vo: str = VO):  # type: ignore[no-untyped-def]
    found = catalogue.site(site)
    assert found is not None
    site_vo = found.vo(vo)
    assert site_vo is not None and site_vo.status is SiteStatus.OK, site_vo
    assert site_vo.quota is not None
    return site_vo.quota


def _build_one(fed: SimFederation, site: str) -> Catalogue:
    targets, credentials, source = sim_targets(fed.base_url, [VO], [site])
    return build_catalogue(targets, credentials, source, site_timeout=30)


def test_every_site_vo_gets_the_volume_quota_its_cinder_grants(
    sim_catalogue: Catalogue, sim_spec: FederationSpec
) -> None:
    for site_spec in sim_spec.sites:
        for vo in site_spec.vos:
            quota = _quota(sim_catalogue, site_spec.name, vo.name)
            if not site_spec.block_storage:
                continue
            granted = site_spec.quota_for(vo)
            assert (quota.volumes.limit, quota.gigabytes.limit) == (granted.volumes, granted.gigabytes), (
                site_spec.name,
                vo.name,
            )


def test_vo_access_has_terabytes_at_some_sites_and_little_at_others(sim_catalogue: Catalogue) -> None:
    assert _quota(sim_catalogue, "IFCA-LCG2").gigabytes == QuotaItem(limit=10240, in_use=0)
    assert _quota(sim_catalogue, "IN2P3-IRES").gigabytes.limit == 5120
    assert _quota(sim_catalogue, "NCG-INGRID-PT").gigabytes.limit == 200


def test_a_site_without_block_storage_has_a_volume_quota_of_zero(sim_catalogue: Catalogue) -> None:
    quota = _quota(sim_catalogue, "CYFRONET-CLOUD")
    assert quota.volumes == QuotaItem(limit=0, in_use=0)
    assert quota.gigabytes == QuotaItem(limit=0, in_use=0)
    assert quota.instances.limit == 5  # the rest of the site is there as usual


def test_volumes_in_use_are_counted(simcloud_fresh: SimFederation) -> None:
    conn = connect(simcloud_fresh, "IN2P3-IRES")
    volume = conn.block_storage.create_volume(size=300, name="already-there")
    conn.block_storage.wait_for_status(volume, "available", interval=0.05, wait=10)
    quota = _quota(_build_one(simcloud_fresh, "IN2P3-IRES"), "IN2P3-IRES")
    assert quota.volumes == QuotaItem(limit=20, in_use=1)
    assert quota.gigabytes == QuotaItem(limit=5120, in_use=300)


def test_an_unlimited_volume_quota_is_none() -> None:
    spec = load_federation()
    site = spec.site("IISAS-FedCloud")
    site.quota.gigabytes = -1
    site.response_delay = 0.0
    with SimFederation.start(spec=spec) as fed:
        quota = _quota(_build_one(fed, "IISAS-FedCloud"), "IISAS-FedCloud")
    assert quota.gigabytes.limit is None and quota.volumes.limit == 5


def test_a_failing_cinder_fails_the_vo_with_its_reason(simcloud: SimFederation) -> None:
    simcloud.faults.inject("IISAS-FedCloud", "volume.limits", "error", status=503, times=None)
    site = _build_one(simcloud, "IISAS-FedCloud").site("IISAS-FedCloud")
    assert site is not None and site.status is SiteStatus.UNREACHABLE
    assert site.error is not None and "503" in site.error
