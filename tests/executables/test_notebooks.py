"""Notebooks: kernel, language, packages a user would have to install, GPU use, degraded metadata."""

from __future__ import annotations

from pathlib import Path

from execplanner.executables import describe_bytes, describe_path
from execplanner.model.message import Level
from execplanner.model.requirements import ExecutableKind, Source


def test_v4_notebook_with_kernelspec(fixtures: Path) -> None:
    record = describe_path(fixtures / "notebooks/astropy-gaia-v4-with-kernelspec.ipynb")
    assert record.kind == ExecutableKind.JUPYTER_NOTEBOOK
    assert record.name == "astropy-gaia-v4-with-kernelspec"
    assert record.runtime.kernel == "python3"
    assert (record.runtime.language, record.runtime.language_version) == ("python", "3.11.4")
    # imports mapped to distributions, stdlib (os) dropped, %pip install lines counted, %%bash cell skipped
    assert record.runtime.packages == [
        "numpy",
        "matplotlib",
        "astropy",
        "astroquery",
        "pyvo",
        "scikit-learn",
        "PyYAML",
        "Pillow",
    ]
    assert "notapackage" not in record.runtime.packages
    assert [item.url for item in record.data] == ["https://gea.esac.esa.int/tap-server/tap"]
    assert record.compute.gpu is None
    assert record.interactive is True
    assert [(p.port, p.protocol, p.public) for p in record.network.ports] == [(8888, "HTTP", True)]
    assert record.compute.cores_min.value == 1 and record.compute.cores_min.source == Source.DEFAULT
    assert record.compute.memory_min_mib.value == 2048 and record.compute.memory_min_gib == 2
    assert record.disk_min_gib == 10
    assert record.duration_seconds.value == 3600 and record.duration_seconds.source == Source.DEFAULT
    assert record.messages == []


def test_stripped_metadata_assumes_python_and_warns(fixtures: Path) -> None:
    record = describe_path(fixtures / "notebooks/pandas-stripped-metadata.ipynb")
    assert record.runtime.language == "python"
    assert record.runtime.kernel is None and record.runtime.language_version is None
    # helpers_local.py sits beside the notebook: a local module, not a package
    assert record.runtime.packages == ["pandas", "scipy", "opencv-python"]
    assert [m.level for m in record.messages] == [Level.WARN]
    assert "no kernelspec" in record.messages[0].message


def test_uploaded_notebook_does_not_know_its_neighbours(fixtures: Path) -> None:
    data = (fixtures / "notebooks/pandas-stripped-metadata.ipynb").read_bytes()
    record = describe_bytes(data, "upload.ipynb")
    assert "helpers-local" in record.runtime.packages


def test_gpu_notebook_with_stripped_metadata(fixtures: Path) -> None:
    record = describe_path(fixtures / "notebooks/gpu-stripped-metadata.ipynb")
    assert record.runtime.packages == ["torch", "torchvision", "cupy"]
    assert record.compute.gpu is not None
    assert record.compute.gpu.vendor == "nvidia"
    assert record.compute.gpu.count.value == 1
    assert record.compute.gpu.count.source == Source.DERIVED
    assert "torch.cuda" in (record.compute.gpu.count.note or "")


def test_v3_notebook_is_converted_and_python2_cells_degrade(fixtures: Path) -> None:
    record = describe_path(fixtures / "notebooks/photometry-v3-legacy.ipynb")
    assert record.runtime.kernel == "python2"
    assert record.runtime.language_version == "2"
    assert record.runtime.packages == ["numpy", "photutils", "astropy"]
    assert any("not valid Python 3" in m.message for m in record.messages)


def test_r_notebook_lists_libraries(fixtures: Path) -> None:
    record = describe_path(fixtures / "notebooks/r-kernel-ggplot.ipynb")
    assert (record.runtime.language, record.runtime.language_version, record.runtime.kernel) == ("R", "4.3.1", "ir")
    assert record.runtime.packages == ["ggplot2", "data.table", "FITSio"]
    assert record.runtime.build == "r"


def test_notebook_detected_by_content_whatever_its_name(fixtures: Path) -> None:
    data = (fixtures / "notebooks/gpu-stripped-metadata.ipynb").read_bytes()
    record = describe_bytes(data, "analysis.json")
    assert record.kind == ExecutableKind.JUPYTER_NOTEBOOK
    assert record.compute.gpu is not None
    assert describe_bytes(data).kind == ExecutableKind.JUPYTER_NOTEBOOK


def test_kind_given_as_protocol_type_uri(fixtures: Path) -> None:
    data = (fixtures / "notebooks/astropy-gaia-v4-with-kernelspec.ipynb").read_bytes()
    for kind in (
        "https://www.purl.org/ivoa.net/EB/schema/v1.0/types/executable/jupyter-notebook-1.0",
        "https://www.purl.org/ivoa.net/EB/schema/types/executables/jupyter-notebook-1.0",
        "uri://jupyter-notebook",
        "jupyter-notebook",
    ):
        assert describe_bytes(data, None, kind).runtime.kernel == "python3"
