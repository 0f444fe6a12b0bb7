"""What we assume when nothing says otherwise, per executable kind (documented in docs/executables.md).

A notebook gets 1 core and 2 GiB (what mybinder.org gives), a workflow is batch, everything gets 10 GiB of disk
and one hour. Defaults carry Source.DEFAULT and a low confidence so that anything better replaces them.
"""

from __future__ import annotations

from dataclasses import dataclass

from execplanner.model.requirements import (
    Compute,
    Estimate,
    ExecutableKind,
    Network,
    Port,
    Requirements,
    Runtime,
)


@dataclass(frozen=True)
class KindDefaults:
    cores: int
    memory_mib: int
    disk_mib: int
    duration_seconds: int
    interactive: bool


DEFAULT_DISK_MIB = 10 * 1024
DEFAULT_DURATION_SECONDS = 3600
JUPYTER_PORT = Port(port=8888, protocol="HTTP", path="/", public=True)

KIND_DEFAULTS: dict[ExecutableKind, KindDefaults] = {
    ExecutableKind.JUPYTER_NOTEBOOK: KindDefaults(1, 2048, DEFAULT_DISK_MIB, DEFAULT_DURATION_SECONDS, True),
    ExecutableKind.BINDER_REPOSITORY: KindDefaults(1, 2048, DEFAULT_DISK_MIB, DEFAULT_DURATION_SECONDS, True),
    ExecutableKind.DOCKER_CONTAINER: KindDefaults(1, 2048, DEFAULT_DISK_MIB, DEFAULT_DURATION_SECONDS, False),
    ExecutableKind.SINGULARITY_CONTAINER: KindDefaults(1, 2048, DEFAULT_DISK_MIB, DEFAULT_DURATION_SECONDS, False),
    ExecutableKind.DOCKER_COMPOSE: KindDefaults(1, 2048, DEFAULT_DISK_MIB, DEFAULT_DURATION_SECONDS, False),
    ExecutableKind.SNAKEMAKE_WORKFLOW: KindDefaults(1, 2048, DEFAULT_DISK_MIB, DEFAULT_DURATION_SECONDS, False),
    ExecutableKind.CWL_TOOL: KindDefaults(1, 1024, DEFAULT_DISK_MIB, DEFAULT_DURATION_SECONDS, False),
    ExecutableKind.CODEMETA: KindDefaults(1, 2048, DEFAULT_DISK_MIB, DEFAULT_DURATION_SECONDS, False),
}


def default_requirements(kind: ExecutableKind, name: str | None = None) -> Requirements:
    """A record for `kind` filled only with defaults; parsers then overwrite what they can derive or read."""
    defaults = KIND_DEFAULTS[kind]
    ports = (
        [JUPYTER_PORT.model_copy()]
        if kind in (ExecutableKind.JUPYTER_NOTEBOOK, ExecutableKind.BINDER_REPOSITORY)
        else []
    )
    return Requirements(
        kind=kind,
        name=name,
        runtime=Runtime(),
        compute=Compute(
            cores_min=Estimate.default(defaults.cores, f"default for {kind.value}"),
            memory_min_mib=Estimate.default(defaults.memory_mib, f"default for {kind.value}"),
        ),
        disk_min_mib=Estimate.default(defaults.disk_mib, "default disk"),
        network=Network(ports=ports),
        interactive=defaults.interactive,
        duration_seconds=Estimate.default(defaults.duration_seconds, "default duration"),
    )
