"""docker-compose files: services' images, published ports, resources summed over services, no secrets."""

from __future__ import annotations

from pathlib import Path

from execplanner.executables import describe_path
from execplanner.model.requirements import ExecutableKind, Source


def test_oligia_like_web_desktop(fixtures: Path) -> None:
    record = describe_path(fixtures / "compose/oligia-webtop-desktop.yml")
    assert record.kind == ExecutableKind.DOCKER_COMPOSE
    assert record.name == "oligia-webtop"
    [image] = record.runtime.images
    assert image.reference == "ghcr.io/ivoa/oligia-webtop:ubuntu-2022.01.13"
    assert (image.platform_os, image.platform_arch) == ("linux", "amd64")
    assert [(p.port, p.protocol, p.path, p.public) for p in record.network.ports] == [(3000, "HTTP", "/", True)]
    assert record.interactive is True
    compute = record.compute
    assert (compute.memory_min_mib.value, compute.memory_min_mib.source) == (2048, Source.DECLARED)
    assert compute.memory_max_mib is not None and compute.memory_max_mib.value == 4096
    assert compute.memory_max_gib == 4
    assert compute.cores_max is not None and compute.cores_max.value == 2
    assert (compute.cores_min.value, compute.cores_min.source) == (2, Source.DERIVED)  # only a limit was given
    assert [(v.source, v.target, v.read_only) for v in record.volumes] == [
        ("./config", "/config", False),
        ("astro-data", "/data", True),
    ]
    assert any("bind mount ./config" in m.message for m in record.messages)
    assert record.runtime.needs_docker is True


def test_environment_values_never_recorded(fixtures: Path) -> None:
    record = describe_path(fixtures / "compose/oligia-webtop-desktop.yml")
    assert record.runtime.environment_variables == ["PUID", "PGID", "TZ", "PASSWORD"]
    assert "correct-horse-battery-staple" not in record.model_dump_json()
    gpu_record = describe_path(fixtures / "compose/jupyter-postgres-gpu.yml")
    assert "not-recorded-secret" not in gpu_record.model_dump_json()


def test_two_services_add_up_with_gpu_and_private_ports(fixtures: Path) -> None:
    record = describe_path(fixtures / "compose/jupyter-postgres-gpu.yml")
    assert [image.reference for image in record.runtime.images] == [
        "quay.io/jupyter/pytorch-notebook:cuda12-2024-05-27",
        "docker.io/library/postgres:16",
    ]
    assert record.runtime.images[0].digest is not None
    compute = record.compute
    assert compute.cores_min.value == 4  # 3.5 reserved + 0.5 (cpus), rounded up
    assert compute.cores_max is not None and compute.cores_max.value == 5  # 4 + 0.5
    assert compute.memory_min_mib.value == 12 * 1024 + 512
    assert compute.memory_max_mib is not None and compute.memory_max_mib.value == 16 * 1024 + 1024
    assert compute.gpu is not None and compute.gpu.count.value == 1 and compute.gpu.vendor == "nvidia"
    ports = {(p.port, p.protocol, p.public) for p in record.network.ports}
    assert ports == {(8888, "HTTP", True), (6006, "TCP", False), (5432, "TCP", False)}
    assert record.runtime.environment_variables == ["JUPYTER_TOKEN", "CATALOGUE_DSN"]
