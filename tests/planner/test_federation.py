"""The catalogue-backed planner, as pure functions over a small hand-made federation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from support.builders import UBUNTU_DOCKER, flavor, quota

from execplanner.booking.offersets import resolved
from execplanner.catalogue.model import (
    Catalogue,
    Gpu,
    Image,
    Network,
    NetworkRole,
    PublicAccess,
    Site,
    SiteVO,
)
from execplanner.model.capacity import Hold, Usage
from execplanner.model.documents import (
    ComputeResource,
    Executable,
    ExecutableKind,
    Interval,
    MinMax,
    OfferSetRequest,
    Port,
    ScheduleRequest,
)
from execplanner.model.documents import (
    Image as ImageSpec,
)
from execplanner.planner.federation import FederationPlanner, choose_vo
from execplanner.planner.plan import Caller

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
UBUNTU = Image(id="i2", name="Ubuntu 20.04", os_family="linux", os_distro="ubuntu", os_version="20.04")
CENTOS = Image(id="i3", name="CentOS 7", os_family="linux", os_distro="centos", os_version="7")
WINDOWS = Image(id="i4", name="Windows Server", os_family="windows")


PUBLIC_FIP = Network(id="n1", name="public", role=NetworkRole.PUBLIC, access=PublicAccess.FLOATING_IP, external=True)
PRIVATE = Network(id="n2", name="vo-net", role=NetworkRole.VO_PRIVATE)
PROVIDER = Network(id="n3", name="provider-2001", role=NetworkRole.PUBLIC, access=PublicAccess.DIRECT)


def catalogue() -> Catalogue:
    return Catalogue(
        source="test",
        sites=[
            Site(
                name="ALPHA",
                endpoint="https://alpha/v3",
                vos=[
                    SiteVO(
                        vo="vo.escape.eu",
                        project_id="pa",
                        flavors=[
                            flavor("m1.small", 1, 2),
                            flavor("m1.medium", 2, 4),
                            flavor("m1.large", 4, 8),
                            flavor("m1.xlarge", 8, 32),
                        ],
                        images=[UBUNTU, UBUNTU_DOCKER, WINDOWS],
                        networks=[PUBLIC_FIP, PRIVATE],
                        quota=quota(),
                    )
                ],
            ),
            Site(
                name="BRAVO",
                endpoint="https://bravo/v3",
                vos=[
                    SiteVO(
                        vo="vo.escape.eu",
                        project_id="pb",
                        flavors=[
                            flavor("cor2mem4", 2, 4),
                            flavor("cor16mem64", 16, 64),
                            flavor("g1.gpu-v100", 8, 32, gpu=Gpu(count=1, vendor="NVIDIA", model="Tesla V100")),
                        ],
                        images=[UBUNTU_DOCKER],
                        networks=[PROVIDER],
                        quota=quota(instances=2),
                    )
                ],
            ),
            Site(
                name="CHARLIE",
                endpoint="https://charlie/v3",
                vos=[
                    SiteVO(
                        vo="vo.escape.eu",
                        project_id="pc",
                        flavors=[flavor("small", 2, 4)],
                        images=[CENTOS],
                        networks=[PRIVATE],
                        quota=quota(),
                    )
                ],
            ),
            Site(
                name="DELTA",
                endpoint="https://delta/v3",
                vos=[
                    SiteVO(
                        vo="vo.access.egi.eu",
                        project_id="pd",
                        flavors=[flavor("big", 64, 256)],
                        images=[UBUNTU],
                        networks=[PUBLIC_FIP],
                        quota=quota(),
                    )
                ],
            ),
        ],
    )


FEDERATION = FederationPlanner(catalogue=catalogue, default_vo="vo.escape.eu", max_offers=4)


def PLANNER(request, usage, now, *caller):  # noqa: N802 — reads like the planner object it wraps
    """The planner as booking calls it: with the request's requirements resolved."""
    return FEDERATION(resolved(request), usage, now, *caller)


def container(
    cores: int = 2, memory: int = 4, port: int | None = 3000, cores_max: int | None = None
) -> OfferSetRequest:
    ports = [Port(internal=port, protocol="HTTP")] if port else []
    return OfferSetRequest(
        executable=Executable(
            kind=ExecutableKind.DOCKER_CONTAINER,
            image=ImageSpec(locations=["ghcr.io/ivoa/oligia-webtop:ubuntu-2022.01.13"]),
            ports=ports,
        ),
        compute=[ComputeResource(cores=MinMax(min=cores, max=cores_max), memory=MinMax(min=memory))],
    )


def test_offers_are_diverse_across_sites_and_times():
    plan = PLANNER(container(), {}, NOW)
    assert len(plan.offers) == 4
    assert {o.placement.site for o in plan.offers} == {"ALPHA", "BRAVO"}
    assert len({o.schedule.preparing.start for o in plan.offers}) >= 2
    first = plan.offers[0]
    assert first.schedule.preparing.start == NOW
    assert first.placement.flavor_name in ("m1.medium", "cor2mem4")


def test_smallest_fitting_flavor_and_docker_image_and_public_network():
    plan = PLANNER(container(cores=3, memory=6), {}, NOW)
    alpha = next(o for o in plan.offers if o.placement.site == "ALPHA")
    assert alpha.placement.flavor_name == "m1.large"
    assert alpha.placement.image_name == "Ubuntu 22.04 Docker"
    assert alpha.placement.network_name == "public" and alpha.placement.public_access == "floating-ip"
    assert alpha.placement.floating_ips == 1
    assert alpha.cores == MinMax(min=4, max=4) and alpha.memory_gib == MinMax(min=8, max=8)
    bravo = next(o for o in plan.offers if o.placement.site == "BRAVO")
    assert bravo.placement.public_access == "direct" and bravo.placement.floating_ips == 0


def test_max_excludes_bigger_flavors():
    plan = PLANNER(container(cores=3, memory=6, cores_max=4), {}, NOW)
    assert {o.placement.site for o in plan.offers} == {"ALPHA"}


def test_gpu_flavors_only_when_asked():
    plan = PLANNER(container(cores=8, memory=32), {}, NOW)
    assert all(o.placement.gpus == 0 for o in plan.offers)
    assert {o.placement.flavor_name for o in plan.offers} <= {"m1.xlarge", "cor16mem64"}


def test_no_public_network_needed_without_ports():
    plan = PLANNER(container(port=None), {}, NOW)
    sites = [o.placement.site for o in plan.offers]
    assert set(sites) == {"ALPHA", "BRAVO", "CHARLIE"}
    assert sites.index("CHARLIE") > sites.index("ALPHA")  # Docker installed at boot ranks after a Docker image
    charlie = next(o for o in plan.offers if o.placement.site == "CHARLIE")
    assert charlie.placement.network_name == "vo-net" and charlie.placement.public_access is None


def test_start_windows_are_honoured():
    request = container()
    window = Interval(start=NOW + timedelta(days=1), duration=timedelta(hours=2))
    request.schedule = ScheduleRequest(duration_min=timedelta(hours=3), start=[window])
    plan = PLANNER(request, {}, NOW)
    starts = sorted({o.schedule.preparing.start for o in plan.offers})
    assert starts[0] == window.start
    assert all(window.start <= s <= window.start + window.duration for s in starts)
    assert all(o.schedule.available.duration == timedelta(hours=3) for o in plan.offers)


def test_past_windows_are_a_no():
    request = container()
    request.schedule = ScheduleRequest(start=[Interval(start=NOW - timedelta(days=2), duration=timedelta(hours=1))])
    plan = PLANNER(request, {}, NOW)
    assert not plan.offers
    assert "passed" in plan.messages[0].message


def test_no_for_too_much_memory_names_the_largest():
    plan = PLANNER(container(cores=2, memory=128), {}, NOW)
    assert not plan.offers
    texts = [m.message for m in plan.messages]
    assert "no site supporting vo.escape.eu offers a flavor with 128 GiB RAM; largest is 64 GiB at BRAVO" in texts


def test_no_for_unknown_vo():
    request = container()
    request.vo = "vo.nowhere.eu"
    plan = PLANNER(request, {}, NOW)
    assert not plan.offers and "vo.nowhere.eu" in plan.messages[0].message


def test_no_for_gpu_model_lists_what_exists(monkeypatch):
    import execplanner.planner.federation as federation

    original = federation.needs_of
    monkeypatch.setattr(federation, "needs_of", lambda req: replace(original(req), gpus=1, gpu_model="A100"))
    plan = PLANNER(container(cores=8, memory=32), {}, NOW)
    assert not plan.offers
    assert "A100" in plan.messages[0].message and "Tesla V100" in plan.messages[0].message


def test_gpu_need_gets_the_gpu_flavor(monkeypatch):
    import execplanner.planner.federation as federation

    original = federation.needs_of
    monkeypatch.setattr(federation, "needs_of", lambda req: replace(original(req), gpus=1, gpu_vendor="nvidia"))
    plan = PLANNER(container(cores=4, memory=16), {}, NOW)
    assert {o.placement.flavor_name for o in plan.offers} == {"g1.gpu-v100"}
    assert all(o.placement.gpus == 1 for o in plan.offers)


def held(site: str, hours: float, **amounts: int) -> Hold:
    """What others hold at `site` from an hour ago until `hours` from NOW."""
    return Hold(site, "vo.escape.eu", NOW - timedelta(hours=1), NOW + timedelta(hours=hours), Usage(**amounts))


def test_quota_held_by_others_is_respected():
    plan = PLANNER(container(), [held("BRAVO", 48, instances=2, cores=4, memory_mib=8192)], NOW)
    assert all(o.placement.site == "ALPHA" for o in plan.offers)


def test_siblings_share_what_they_hold():
    """BRAVO has room for two VMs: all four offers of one set may go there, since only one can be accepted."""
    plan = PLANNER(container(), [held("ALPHA", 48, instances=10)], NOW)
    assert [o.placement.site for o in plan.offers] == ["BRAVO"] * 4
    assert len({o.schedule.preparing.start for o in plan.offers}) == 4


def test_full_now_gets_later_offers():
    plan = PLANNER(container(), [held("ALPHA", 2, instances=10), held("BRAVO", 2, instances=2)], NOW)
    assert plan.offers
    assert all(o.schedule.preparing.start >= NOW + timedelta(hours=2) for o in plan.offers)
    assert plan.offers[0].schedule.preparing.start == NOW + timedelta(hours=2)  # as soon as the holds end
    assert any("earliest offer starts at 2026-11-25T14:00:00Z" in m.message for m in plan.messages)


def test_an_offer_that_starts_later_does_not_block_now():
    later = Hold("BRAVO", "vo.escape.eu", NOW + timedelta(hours=3), NOW + timedelta(hours=5), Usage(instances=2))
    plan = PLANNER(container(), [later, held("ALPHA", 48, instances=10)], NOW)
    assert plan.offers[0].placement.site == "BRAVO" and plan.offers[0].schedule.preparing.start == NOW


def test_full_everywhere_is_a_no_naming_the_sites_and_when_room_comes_back():
    holds = [held("ALPHA", 30, instances=10), held("BRAVO", 40, instances=2)]
    plan = PLANNER(container(), holds, NOW)
    assert not plan.offers
    message = plan.messages[0].message
    assert message.startswith("every suitable site is full for vo.escape.eu until 2026-11-26T18:00:00Z: ")
    assert "ALPHA (instances: 10 of 10 in use or held; room from 2026-11-26T18:00:00Z)" in message
    assert "BRAVO" in message and message.endswith("offers from 2026-11-26T18:00:00Z are possible")


def test_ranking_is_deterministic():
    assert PLANNER(container(), {}, NOW) == PLANNER(container(), {}, NOW)


@pytest.mark.parametrize("kind", [ExecutableKind.JUPYTER_NOTEBOOK, ExecutableKind.BINDER_REPOSITORY])
def test_notebooks_need_a_public_jupyter_port(kind):
    request = OfferSetRequest(executable=Executable(kind=kind, location="https://x/nb.ipynb"))
    plan = PLANNER(request, {}, NOW)
    assert plan.offers and all(o.placement.public_access for o in plan.offers)


# --- who asks: the VO from the token, and EGI's vm_operator rule ---------------------------------------------

OPERATOR = Caller(owner="alice@checkin", vos=("vo.escape.eu",), may_launch={"vo.escape.eu": True})
MEMBER_ONLY = Caller(owner="bob@checkin", vos=("vo.escape.eu",), may_launch={"vo.escape.eu": False})


def test_a_vm_operator_gets_offers():
    plan = PLANNER(container(), {}, NOW, OPERATOR)
    assert plan.offers


def test_a_member_without_vm_operator_gets_a_no_naming_the_entitlement():
    plan = PLANNER(container(), {}, NOW, MEMBER_ONLY)
    assert not plan.offers
    [message] = plan.messages
    assert message.level.value == "ERROR"
    assert "urn:mace:egi.eu:group:vo.escape.eu:role=vm_operator#aai.egi.eu" in message.message
    assert "vm_operator role" in message.message


def test_a_non_member_gets_a_no_saying_so():
    request = container()
    request.vo = "vo.access.egi.eu"
    plan = PLANNER(request, {}, NOW, OPERATOR)
    assert not plan.offers
    assert "no membership of vo.access.egi.eu" in plan.messages[0].message


def test_unknown_entitlements_do_not_refuse():
    """An IAM token (groups, no entitlements) or no token: the planner cannot judge, so it plans."""
    plan = PLANNER(container(), {}, NOW, Caller(owner="carol@iam", vos=("escape",), may_launch=None))
    assert plan.offers


def test_the_vo_comes_from_the_token_when_the_request_names_none():
    planner = FederationPlanner(catalogue=catalogue, default_vo="vo.elsewhere.eu", max_offers=4)
    plan = planner(resolved(container()), {}, NOW, OPERATOR)
    assert plan.offers and {o.placement.vo for o in plan.offers} == {"vo.escape.eu"}
    assert any("planned for vo.escape.eu, which your token names" in m.message for m in plan.messages)


def test_the_request_vo_beats_the_token():
    assert choose_vo("vo.access.egi.eu", OPERATOR, "vo.escape.eu", KNOWN) == ("vo.access.egi.eu", [])


KNOWN = {"a.eu", "b.eu", "c.eu", "vo.escape.eu"}.copy


def test_the_token_vo_prefers_the_default_then_one_the_caller_may_launch_in():
    caller = Caller(vos=("a.eu", "b.eu", "c.eu"), may_launch={"a.eu": False, "b.eu": True, "c.eu": True})
    assert choose_vo(None, caller, "c.eu", KNOWN)[0] == "c.eu"
    assert choose_vo(None, caller, "z.eu", KNOWN)[0] == "b.eu"
    assert choose_vo(None, Caller(vos=("a.eu", "b.eu")), "z.eu", KNOWN)[0] == "a.eu"
    assert choose_vo(None, Caller(), "z.eu", KNOWN) == ("z.eu", [])


def test_token_vos_the_catalogue_does_not_know_are_ignored():
    """IAM groups such as /escape name no FedCloud VO: the default stands."""
    assert choose_vo(None, Caller(vos=("escape",)), "vo.escape.eu", KNOWN) == ("vo.escape.eu", [])


def test_a_binder_repository_with_its_prebuilt_image_is_budgeted_a_pull_not_a_build():
    def binder(image: str | None) -> OfferSetRequest:
        return OfferSetRequest(
            executable=Executable(
                kind=ExecutableKind.BINDER_REPOSITORY,
                location="https://github.com/ivoa/binder-demo",
                image=ImageSpec(locations=[image]) if image else None,
            )
        )

    def preparing(request: OfferSetRequest) -> timedelta:
        schedule = PLANNER(request, {}, NOW).offers[0].schedule
        return schedule.available.start - schedule.preparing.start

    assert preparing(binder(None)) == timedelta(minutes=15)  # repo2docker builds it on the VM
    assert preparing(binder("ghcr.io/ivoa/binder-demo:2026.11")) == preparing(container())  # pulled and run
