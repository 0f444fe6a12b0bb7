"""codemeta.json v2 and v3: free-text requirements, identifiers, and degraded records for wrong types."""

from __future__ import annotations

from pathlib import Path

from execplanner.executables import describe_path
from execplanner.model.message import Level
from execplanner.model.requirements import ExecutableKind, Source


def test_v3_codemeta_alone(fixtures: Path) -> None:
    record = describe_path(fixtures / "codemeta/radio-imaging-v3.json")
    assert record.kind == ExecutableKind.CODEMETA
    assert record.name == "radio-imaging-toolkit"
    assert (record.compute.memory_min_mib.value, record.compute.memory_min_mib.source) == (32768, Source.DECLARED)
    assert record.compute.cores_min.value == 16
    assert record.compute.arch == "x86_64"
    assert record.disk_min_gib == 500
    assert (record.runtime.language, record.runtime.language_version) == ("python", "3.11")
    assert record.runtime.packages == ["numpy", "casacore", "wsclean"]
    assert record.runtime.operating_system == "Linux"
    assert record.identifiers.doi == "10.5281/zenodo.1234567"
    assert record.identifiers.code_repository == "https://gitlab.example.org/radio/imaging-toolkit"
    assert record.messages == []


def test_wrong_types_degrade_with_warnings(fixtures: Path) -> None:
    record = describe_path(fixtures / "bad/codemeta-wrong-types.json")
    assert record.name == "spectra-fitter"
    assert record.compute.memory_min_mib.source == Source.DEFAULT  # 8 (a number) is not "8 GB"
    assert record.compute.cores_min.source == Source.DEFAULT
    assert record.disk_min_mib.value == 25 * 1024  # two storage statements add up
    warned = {m.values.get("key") for m in record.messages if m.level == Level.WARN}
    assert warned == {"memoryRequirements", "processorRequirements"}
    assert (record.runtime.language, record.runtime.language_version) == ("python", "3.10")
