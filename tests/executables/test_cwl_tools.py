"""CWL CommandLineTool: ResourceRequirement in MiB, DockerRequirement, hints that are expressions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from execplanner.errors import InvalidExecutable
from execplanner.executables import describe_bytes, describe_path
from execplanner.model.requirements import ExecutableKind, Source


def test_sofia_tool(fixtures: Path) -> None:
    record = describe_path(fixtures / "cwl/sofia-source-finder.cwl")
    assert record.kind == ExecutableKind.CWL_TOOL
    assert record.name == "sofia-source-finder"
    compute = record.compute
    assert (compute.cores_min.value, compute.cores_min.source) == (8, Source.DECLARED)
    assert compute.cores_max is not None and compute.cores_max.value == 32
    assert compute.memory_min_mib.value == 16384 and compute.memory_min_gib == 16
    assert compute.memory_max_mib is None  # an expression, evaluated only at run time
    assert record.disk_min_mib.value == 20480 + 10240
    assert [i.reference for i in record.runtime.images] == ["docker.io/sofiapipeline/sofia2:v2.5.1"]
    assert record.runtime.packages == ["sofia2"]
    assert record.interactive is False
    assert [m.values["key"] for m in record.messages] == ["ramMax"]


def test_json_cwl_with_map_requirements_and_gpu() -> None:
    document = {
        "cwlVersion": "v1.2",
        "class": "CommandLineTool",
        "baseCommand": "train",
        "requirements": [{"class": "ResourceRequirement", "coresMin": 2, "ramMin": 3000.5}],
        "hints": {"cwltool:CUDARequirement": {"cudaVersionMin": "11.4", "cudaDeviceCountMin": 2}},
        "inputs": [],
        "outputs": [],
    }
    record = describe_bytes(json.dumps(document).encode(), "train.cwl")
    assert record.compute.memory_min_mib.value == 3001
    assert record.compute.gpu is not None and record.compute.gpu.count.value == 2
    assert record.network.outbound is False


def test_not_a_tool() -> None:
    with pytest.raises(InvalidExecutable, match="not a tool"):
        describe_bytes(b"cwlVersion: v1.2\nclass: Operation\n", "op.cwl")
