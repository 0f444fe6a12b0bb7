"""Simulated Cinder and Nova volume attachments, seen through the real openstacksdk over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import openstack
import pytest

from execplanner.simcloud import SimFederation, load_federation
from execplanner.simcloud.connect import connect

SITE = "IN2P3-IRES"
UBUNTU = "ubuntu-22.04"


def _boot(conn: openstack.connection.Connection, name: str) -> openstack.compute.v2.server.Server:
    image = next(i.id for i in conn.image.images() if i.name == UBUNTU)
    network = next(conn.network.networks(name="int-net")).id
    flavor = conn.compute.find_flavor("m1.small", ignore_missing=False).id
    server = conn.compute.create_server(name=name, flavor_id=flavor, image_id=image, networks=[{"uuid": network}])
    return conn.compute.wait_for_server(server, interval=0.05, wait=10)


def _available(conn: openstack.connection.Connection, **attrs: object) -> openstack.block_storage.v3.volume.Volume:
    volume = conn.block_storage.create_volume(**attrs)
    return conn.block_storage.wait_for_status(volume, "available", interval=0.05, wait=10)


@pytest.fixture
def small_quota_federation() -> Iterator[SimFederation]:
    """IN2P3-IRES with room for 2 volumes and 100 GiB in vo.access.egi.eu."""
    spec = load_federation()
    site = spec.site(SITE)
    site.quota.volumes, site.quota.gigabytes = 2, 100
    for vo in site.vos:
        vo.quota = {}
    with SimFederation.start(spec=spec) as fed:
        yield fed


def test_block_storage_is_in_the_catalogue_with_the_project_in_its_url(simcloud: SimFederation) -> None:
    conn = connect(simcloud, SITE)
    endpoint = conn.block_storage.get_endpoint()
    assert endpoint.endswith(f"/{SITE}/volume/v3/{conn.current_project_id}")
    types = {entry["type"] for entry in conn.session.auth.get_access(conn.session).service_catalog.catalog}
    assert {"block-storage", "volumev3"} <= types


def test_limits_and_quota_set_report_quota_and_use(small_quota_federation: SimFederation) -> None:
    conn = connect(small_quota_federation, SITE)
    _available(conn, size=30, name="scratch")
    absolute = conn.block_storage.get_limits().absolute
    assert (absolute.max_total_volumes, absolute.max_total_volume_gigabytes) == (2, 100)
    assert (absolute.total_volumes_used, absolute.total_gigabytes_used) == (1, 30)
    quota = conn.block_storage.get_quota_set(conn.current_project_id, usage=True)
    assert (quota.volumes, quota.gigabytes) == (2, 100)
    assert quota.usage["volumes"] == 1 and quota.usage["gigabytes"] == 30


def test_a_volume_is_created_then_available_then_deleted(simcloud: SimFederation) -> None:
    conn = connect(simcloud, SITE)
    volume = conn.block_storage.create_volume(size=5, name="results", metadata={"owner": "me"})
    assert volume.status == "creating"
    volume = conn.block_storage.wait_for_status(volume, "available", interval=0.05, wait=10)
    fetched = conn.block_storage.get_volume(volume.id)
    assert (fetched.name, fetched.size, fetched.metadata) == ("results", 5, {"owner": "me"})
    assert volume.id in {v.id for v in conn.block_storage.volumes()}
    conn.block_storage.delete_volume(volume)
    conn.block_storage.wait_for_delete(volume, interval=0.05, wait=10)
    assert volume.id not in {v.id for v in conn.block_storage.volumes()}


def test_volumes_beyond_the_gigabytes_quota_are_refused_with_413(small_quota_federation: SimFederation) -> None:
    conn = connect(small_quota_federation, SITE)
    _available(conn, size=80)
    with pytest.raises(openstack.exceptions.HttpException) as caught:
        conn.block_storage.create_volume(size=30)
    assert caught.value.status_code == 413
    assert "Requested 30G, quota is 100G and 80G has been consumed" in str(caught.value)


def test_volumes_beyond_the_volume_count_quota_are_refused_with_413(small_quota_federation: SimFederation) -> None:
    conn = connect(small_quota_federation, SITE)
    _available(conn, size=1)
    _available(conn, size=1)
    with pytest.raises(openstack.exceptions.HttpException) as caught:
        conn.block_storage.create_volume(size=1)
    assert caught.value.status_code == 413
    assert "Maximum number of volumes allowed (2) exceeded" in str(caught.value)


def test_attach_puts_the_volume_in_use_and_deleting_the_server_frees_it(simcloud: SimFederation) -> None:
    conn = connect(simcloud, SITE)
    server = _boot(conn, "with-volume")
    volume = _available(conn, size=10, name="work")
    attachment = conn.compute.create_volume_attachment(server, volume)
    assert attachment.device == "/dev/vdb"
    in_use = conn.block_storage.wait_for_status(volume, "in-use", interval=0.05, wait=10)
    assert in_use.attachments[0]["server_id"] == server.id
    assert [a.volume_id for a in conn.compute.volume_attachments(server)] == [volume.id]
    assert [v.id for v in conn.compute.get_server(server.id).attached_volumes] == [volume.id]
    with pytest.raises(openstack.exceptions.HttpException) as caught:
        conn.block_storage.delete_volume(volume, ignore_missing=False)
    assert caught.value.status_code == 400
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, interval=0.05, wait=10)
    assert conn.block_storage.get_volume(volume.id).status == "available"
    conn.block_storage.delete_volume(volume)


def test_detach_makes_the_volume_available_again(simcloud: SimFederation) -> None:
    conn = connect(simcloud, SITE)
    server = _boot(conn, "detach-me")
    volume = _available(conn, size=1)
    with pytest.warns(Warning, match="volume_id"):  # the legacy spelling still works, as on a real Nova
        conn.compute.create_volume_attachment(server, volume_id=volume.id)
    conn.compute.delete_volume_attachment(server, volume)
    assert conn.block_storage.get_volume(volume.id).status == "available"
    assert list(conn.compute.volume_attachments(server)) == []
    conn.compute.delete_server(server)
    conn.block_storage.delete_volume(volume)


def test_a_volume_still_creating_cannot_be_attached(simcloud: SimFederation) -> None:
    simcloud.federation.sites[SITE].spec.volume_delay = 30
    conn = connect(simcloud, SITE)
    server = _boot(conn, "too-early")
    try:
        volume = conn.block_storage.create_volume(size=1)
        with pytest.raises(openstack.exceptions.HttpException) as caught:
            conn.compute.create_volume_attachment(server, volume)
        assert caught.value.status_code == 400 and "current status is creating" in str(caught.value)
    finally:
        simcloud.federation.sites[SITE].spec.volume_delay = 0.1
        conn.compute.delete_server(server)


def test_another_projects_volume_is_not_found(simcloud: SimFederation) -> None:
    mine = connect(simcloud, SITE)
    theirs = connect(simcloud, SITE, vo="vo.escape.eu")
    volume = _available(theirs, size=1)
    with pytest.raises(openstack.exceptions.NotFoundException):
        mine.block_storage.get_volume(volume.id)
    theirs.block_storage.delete_volume(volume)


def test_a_site_without_block_storage_has_no_such_service(simcloud: SimFederation) -> None:
    site = simcloud.federation.sites["CYFRONET-CLOUD"]
    assert not site.spec.block_storage
    conn = connect(simcloud, "CYFRONET-CLOUD")
    with pytest.raises(openstack.exceptions.ServiceDisabledException):
        conn.block_storage.get_limits()


def test_volume_faults_are_injected_like_any_other(simcloud: SimFederation) -> None:
    conn = connect(simcloud, SITE)
    simcloud.faults.inject(SITE, "volume.volumes.create", "quota")
    with pytest.raises(openstack.exceptions.HttpException) as caught:
        conn.block_storage.create_volume(size=1)
    assert caught.value.status_code == 413 and "VolumeSizeExceedsAvailableQuota" in str(caught.value)
    simcloud.faults.inject(SITE, "volume.limits", "error", status=503)
    with pytest.raises(openstack.exceptions.HttpException) as caught:
        conn.block_storage.get_limits()
    assert caught.value.status_code == 503


def test_volumes_survive_a_restart_with_a_state_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "state.json"
    with SimFederation.start(state_file=state) as fed:
        conn = connect(fed, SITE)
        volume = _available(conn, size=7, name="kept")
    with SimFederation.start(state_file=state) as again:
        kept = again.state(SITE).volumes
        assert [(v.id, v.name, v.size, v.status) for v in kept] == [(volume.id, "kept", 7, "available")]
        project = connect(again, SITE).current_project_id
        assert again.state(SITE).usage[project].gigabytes == 7


def test_per_vo_quotas_from_the_bundled_federation() -> None:
    spec = load_federation()
    ifca = spec.site("IFCA-LCG2")
    access = next(vo for vo in ifca.vos if vo.name == "vo.access.egi.eu")
    assert ifca.quota_for(access).gigabytes >= 5120
    dteam = next(vo for vo in ifca.vos if vo.name == "dteam")
    assert ifca.quota_for(dteam).gigabytes < ifca.quota_for(access).gigabytes


def test_an_unknown_quota_key_of_a_vo_is_refused_at_load(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from execplanner.errors import ExecPlannerError

    path = tmp_path / "sites.yaml"
    path.write_text(
        "sites:\n  - name: X\n    vos: [{name: v, project_id: p, quota: {gigabyte: 5}}]\n", encoding="utf-8"
    )
    with pytest.raises(ExecPlannerError, match="gigabyte"):
        load_federation(path)


def test_a_volume_from_an_image_is_bootable_and_at_least_the_image_min_disk(simcloud: SimFederation) -> None:
    conn = connect(simcloud, "IFCA-LCG2")
    image = next(i for i in conn.image.images() if i.name == "Image for EGI Ubuntu 22.04 [Ubuntu/22.04/VirtualBox]")
    with pytest.raises(openstack.exceptions.BadRequestException):
        conn.block_storage.create_volume(size=image.min_disk - 1, image_id=image.id)
    volume = _available(conn, size=image.min_disk, image_id=image.id, name="root")
    assert volume.is_bootable is True
    conn.block_storage.delete_volume(volume)


def test_the_state_document_over_http_lists_volumes_and_their_usage(simcloud: SimFederation) -> None:
    import requests

    conn = connect(simcloud, "IISAS-FedCloud")
    volume = _available(conn, size=3, name="seen-over-http")
    state = requests.get(f"{simcloud.base_url}/_sim/state/IISAS-FedCloud", timeout=10).json()
    assert {"id": volume.id, "size": 3, "status": "available"}.items() <= next(
        v for v in state["volumes"] if v["id"] == volume.id
    ).items()
    assert state["usage"][conn.current_project_id]["gigabytes"] >= 3
    conn.block_storage.delete_volume(volume)
