"""Snakemake workflows read as text: the largest rule sizes the machine, config values are followed."""

from __future__ import annotations

from pathlib import Path

import pytest

from execplanner.errors import InvalidExecutable
from execplanner.executables import describe_bytes, describe_path
from execplanner.model.requirements import ExecutableKind, Source

WORKFLOW = "workflows/hi-friends-sofia"


def test_hi_friends_like_workflow(fixtures: Path) -> None:
    record = describe_path(fixtures / WORKFLOW)
    assert record.kind == ExecutableKind.SNAKEMAKE_WORKFLOW
    assert record.name == "hi-friends-sofia"
    assert record.interactive is False
    compute = record.compute
    assert (compute.cores_min.value, compute.cores_min.source) == (32, Source.DECLARED)
    assert "run_sofia" in (compute.cores_min.note or "") and 'config["sofia"]["threads"]' in (
        compute.cores_min.note or ""
    )
    assert compute.memory_min_mib.value == 64 * 1024 and compute.memory_min_gib == 64
    assert record.disk_min_mib.value == 50000
    assert (record.duration_seconds.value, record.duration_seconds.source) == (30 * 60 + 4 * 3600, Source.DERIVED)
    assert record.runtime.conda_environments == [
        "workflow/envs/download.yml",
        "workflow/envs/analysis.yml",
        "workflow/envs/sofia.yml",
    ]
    assert record.runtime.packages == [
        "snakemake",
        "curl",
        "numpy",
        "matplotlib",
        "spectral-cube",
        "astroquery",
        "sofia2",
        "astropy",
    ]
    assert [item.url for item in record.data] == ["https://hifriends.example.org/sdc2/sky_dev_v2.fits"]
    assert "config/config.yaml" in record.source_files and "workflow/rules/run-sofia.smk" in record.source_files


def test_lambda_threads_warn_instead_of_running(fixtures: Path) -> None:
    record = describe_path(fixtures / WORKFLOW)
    [warning] = record.messages
    assert "summary_plots" in warning.message and "lambda" in warning.message


def test_snakefile_path_reads_its_includes(fixtures: Path) -> None:
    record = describe_path(fixtures / WORKFLOW / "workflow/Snakefile")
    # the Snakefile's own directory is the root here, so config/ (one level up) is out of reach
    assert record.kind == ExecutableKind.SNAKEMAKE_WORKFLOW
    assert record.compute.cores_min.value == 4  # split_subcubes; run_sofia's threads need the config
    assert any("configfile" in m.message for m in record.messages)


def test_uploaded_snakefile_without_repository() -> None:
    text = b"""
rule align:
    threads: 8
    resources:
        mem="12G", runtime="2h", nvidia_gpu=1
    container: "docker://quay.io/biocontainers/bwa:0.7.17--h5bf99c6_8"
    shell: "bwa mem -t {threads} ref.fa reads.fq > out.sam"
"""
    record = describe_bytes(text, "align.smk")
    assert record.compute.cores_min.value == 8
    assert record.compute.memory_min_mib.value == 12 * 1024
    assert record.compute.gpu is not None and record.compute.gpu.count.value == 1
    assert record.duration_seconds.value == 7200
    assert [i.reference for i in record.runtime.images] == ["quay.io/biocontainers/bwa:0.7.17--h5bf99c6_8"]


def test_file_with_rule_lines_is_a_snakefile_whatever_its_name() -> None:
    record = describe_bytes(
        b"rule all:\n    input: 'a.txt'\n\nrule make:\n    output: 'a.txt'\n    threads: 2\n", "pipeline.rules"
    )
    assert record.kind == ExecutableKind.SNAKEMAKE_WORKFLOW and record.compute.cores_min.value == 2


def test_snakefile_without_rules_is_refused() -> None:
    with pytest.raises(InvalidExecutable, match="defines no rules"):
        describe_bytes(b"configfile: 'config.yaml'\n", "Snakefile")


def test_snakefile_code_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text(
        f"open({str(marker)!r}, 'w').write('x')\n"
        f"rule a:\n    threads: __import__('os').system('touch {marker}')\n    shell: 'true'\n"
    )
    record = describe_path(snakefile)
    assert not marker.exists()
    assert record.compute.cores_min.source == Source.DEFAULT
