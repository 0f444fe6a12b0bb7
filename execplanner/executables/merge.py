"""Combining descriptions of the same software (a Binder repo, its notebooks, its codemeta.json).

The rule, for every number: declared beats derived beats default; between two of the same rank the larger
wins, because these are minimums and the larger is the safe one. Lists are united in order, single values
(language, version, operating system, identifiers) are kept from the base and filled from the extra when
missing. The base decides the kind, the name (if it has one), and whether the work is interactive.
"""

from __future__ import annotations

from execplanner.model.requirements import Estimate, Gpu, Requirements


def _better(base: Estimate | None, extra: Estimate | None) -> Estimate | None:
    if base is None or extra is None:
        return base or extra
    return extra if extra.outranks(base) else base


def _union(first: list[str], second: list[str]) -> list[str]:
    return list(dict.fromkeys([*first, *second]))


def _gpu(base: Gpu | None, extra: Gpu | None) -> Gpu | None:
    if base is None or extra is None:
        return base or extra
    count = _better(base.count, extra.count)
    assert count is not None
    return Gpu(count=count, vendor=base.vendor or extra.vendor, model=base.model or extra.model)


def enrich(base: Requirements, extra: Requirements) -> Requirements:
    """A new record: `base` with whatever `extra` knows better or additionally."""
    merged = base.model_copy(deep=True)
    _merge_compute(merged, extra)
    merged.disk_min_mib = _better(merged.disk_min_mib, extra.disk_min_mib) or merged.disk_min_mib
    merged.duration_seconds = _better(merged.duration_seconds, extra.duration_seconds) or merged.duration_seconds
    _merge_runtime(merged, extra)
    _merge_collections(merged, extra)
    merged.name = merged.name or extra.name
    merged.identifiers.doi = merged.identifiers.doi or extra.identifiers.doi
    merged.identifiers.code_repository = merged.identifiers.code_repository or extra.identifiers.code_repository
    merged.source_files = _union(merged.source_files, extra.source_files)
    merged.messages = [*merged.messages, *extra.messages]
    return merged


def _merge_compute(merged: Requirements, extra: Requirements) -> None:
    compute, other = merged.compute, extra.compute
    compute.cores_min = _better(compute.cores_min, other.cores_min) or compute.cores_min
    compute.cores_max = _better(compute.cores_max, other.cores_max)
    compute.memory_min_mib = _better(compute.memory_min_mib, other.memory_min_mib) or compute.memory_min_mib
    compute.memory_max_mib = _better(compute.memory_max_mib, other.memory_max_mib)
    compute.gpu = _gpu(compute.gpu, other.gpu)
    if compute.arch == "x86_64" and other.arch != "x86_64":
        compute.arch = other.arch


def _merge_collections(merged: Requirements, extra: Requirements) -> None:
    """Images, ports, data and volumes: the base's, then the extra's that the base does not have."""
    known_images = {image.reference for image in merged.runtime.images}
    merged.runtime.images += [image for image in extra.runtime.images if image.reference not in known_images]
    known_ports = {(port.port, port.protocol) for port in merged.network.ports}
    merged.network.ports += [port for port in extra.network.ports if (port.port, port.protocol) not in known_ports]
    merged.network.outbound = merged.network.outbound or extra.network.outbound
    known_urls = {item.url for item in merged.data}
    merged.data += [item for item in extra.data if item.url not in known_urls]
    merged.volumes += [volume for volume in extra.volumes if volume not in merged.volumes]


def _merge_runtime(merged: Requirements, extra: Requirements) -> None:
    runtime, other = merged.runtime, extra.runtime
    runtime.language = runtime.language or other.language
    if runtime.language_version is None and (other.language or "").lower() == (runtime.language or "").lower():
        runtime.language_version = other.language_version
    runtime.kernel = runtime.kernel or other.kernel
    runtime.packages = _union(runtime.packages, other.packages)
    runtime.conda_environments = _union(runtime.conda_environments, other.conda_environments)
    runtime.apt_packages = _union(runtime.apt_packages, other.apt_packages)
    runtime.environment_variables = _union(runtime.environment_variables, other.environment_variables)
    runtime.build = runtime.build or other.build
    runtime.post_build = runtime.post_build or other.post_build
    runtime.operating_system = runtime.operating_system or other.operating_system
    runtime.needs_docker = runtime.needs_docker or other.needs_docker
