"""Repositories inspected as a whole: Binder layouts, codemeta enrichment, content detection, git clones."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from execplanner.errors import InvalidExecutable
from execplanner.executables import describe_path
from execplanner.model.requirements import ExecutableKind, Source

HCG16 = "repositories/hcg16-casa-udocker"


def test_hcg16_like_binder_repository_enriched_by_codemeta(fixtures: Path) -> None:
    record = describe_path(fixtures / HCG16)
    assert record.kind == ExecutableKind.BINDER_REPOSITORY
    assert record.name == "hcg16-casa-udocker"
    runtime = record.runtime
    assert (runtime.build, runtime.language, runtime.language_version) == ("pip", "python", "3.8")
    # requirements.txt, then postBuild's pip install, then what the notebook imports; lib/hcg16_plots is local
    assert runtime.packages == ["numpy", "astropy", "aplpy", "matplotlib", "udocker", "reproject"]
    assert runtime.apt_packages == ["libxrender1", "xvfb"]
    assert runtime.post_build is True
    assert [i.reference for i in runtime.images] == ["docker.io/amigahub/casa:5.1.1"]
    assert runtime.needs_docker is False  # udocker runs containers without a daemon
    assert runtime.kernel == "python3"
    assert runtime.operating_system == "Linux"
    # codemeta declares what Binder could only default
    assert (record.compute.memory_min_mib.value, record.compute.memory_min_mib.source) == (8192, Source.DECLARED)
    assert record.compute.cores_min.value == 4
    assert record.disk_min_gib == 30
    assert record.identifiers.doi == "10.5281/zenodo.3382441"
    assert record.identifiers.code_repository == "https://github.com/AMIGA-IAA/hcg-16"
    assert [(p.port, p.protocol, p.public) for p in record.network.ports] == [(8888, "HTTP", True)]
    assert record.interactive is True
    assert "codemeta.json" in record.source_files and "binder/postBuild" in record.source_files


def test_lfs_pointer_in_repository_is_reported_not_parsed(fixtures: Path) -> None:
    record = describe_path(fixtures / HCG16)
    assert any("full-resolution-cubes.ipynb is a Git LFS pointer" in m.message for m in record.messages)
    assert any("postBuild" in m.message for m in record.messages)


def test_binder_directory_overrides_root(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("django\n")
    (tmp_path / "binder").mkdir()
    (tmp_path / "binder" / "environment.yml").write_text(
        "dependencies:\n  - python=3.10\n  - conda-forge::healpy\n  - pip:\n    - pyvo>=1.4\n"
    )
    (tmp_path / "binder" / "requirements.txt").write_text("ignored-because-environment-yml\n")
    record = describe_path(tmp_path)
    assert record.kind == ExecutableKind.BINDER_REPOSITORY
    assert record.runtime.build == "conda"
    assert record.runtime.language_version == "3.10"
    assert record.runtime.packages == ["healpy", "pyvo"]
    assert record.runtime.conda_environments == ["binder/environment.yml"]


def test_binder_with_r_and_julia(tmp_path: Path) -> None:
    (tmp_path / "runtime.txt").write_text("r-4.1-2022-01-01\n")
    install = 'install.packages(c("ggplot2", "FITSio"))\nremotes::install_github("a/astroR")\n'
    (tmp_path / "install.R").write_text(install)
    record = describe_path(tmp_path)
    assert (record.runtime.language, record.runtime.language_version, record.runtime.build) == ("R", "4.1", "r")
    assert record.runtime.packages == ["ggplot2", "FITSio", "astroR"]
    julia = tmp_path / "julia"
    julia.mkdir()
    (julia / "Project.toml").write_text('[deps]\nFITSIO = "525bcba6-941b-5504-bd06-fd0dc1a4d2eb"\n')
    (julia / "explore.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    record = describe_path(julia)
    assert (record.runtime.build, record.runtime.language, record.runtime.packages) == ("julia", "julia", ["FITSIO"])


def test_files_found_by_content_under_odd_names(tmp_path: Path, fixtures: Path) -> None:
    shutil.copy(fixtures / "compose/oligia-webtop-desktop.yml", tmp_path / "desktop-stack.yaml")
    record = describe_path(tmp_path)
    assert record.kind == ExecutableKind.DOCKER_COMPOSE
    assert record.network.ports[0].port == 3000


def test_lone_dockerfile_is_a_container(fixtures: Path) -> None:
    record = describe_path(fixtures / "containers/oligia-webtop")
    assert record.kind == ExecutableKind.DOCKER_CONTAINER
    assert record.name == "oligia-webtop"
    assert [i.reference for i in record.runtime.images] == ["lscr.io/linuxserver/webtop:ubuntu-xfce"]
    assert [(p.port, p.protocol, p.public) for p in record.network.ports] == [(3000, "HTTP", True)]
    assert record.runtime.build == "dockerfile"


def test_singularity_definition(fixtures: Path) -> None:
    record = describe_path(fixtures / "containers/casa-pipeline.def")
    assert record.kind == ExecutableKind.SINGULARITY_CONTAINER
    assert [i.reference for i in record.runtime.images] == ["quay.io/casa/casa:6.5.4-9"]


def test_empty_directory_says_what_it_looked_for(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("nothing to run\n")
    with pytest.raises(InvalidExecutable, match="no executable description found"):
        describe_path(tmp_path)


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        env={
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.org",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.org",
            "HOME": str(cwd),
            "PATH": "/usr/bin:/bin",
        },
    )


@pytest.fixture
def workflow_repository(tmp_path: Path, fixtures: Path) -> Path:
    origin = tmp_path / "hi-friends.git"
    shutil.copytree(fixtures / "workflows/hi-friends-sofia", origin)
    _git("init", "-q", "-b", "main", cwd=origin)
    _git("add", ".", cwd=origin)
    _git("commit", "-q", "-m", "workflow", cwd=origin)
    _git("tag", "v1.0", cwd=origin)
    return origin


def test_file_url_is_cloned_and_described(workflow_repository: Path) -> None:
    url = workflow_repository.as_uri()
    record = describe_path(url)
    assert record.kind == ExecutableKind.SNAKEMAKE_WORKFLOW
    assert record.name == "hi-friends"
    assert record.compute.cores_min.value == 32
    assert record.identifiers.code_repository == url
    assert describe_path(url, ref="v1.0").compute.memory_min_gib == 64


def test_credentials_in_a_url_never_reach_the_record_or_errors(workflow_repository: Path) -> None:
    url = "file://user:s3cret-token@" + str(workflow_repository)
    record = describe_path(url)
    assert record.identifiers.code_repository == workflow_repository.as_uri()
    assert "s3cret-token" not in record.model_dump_json()
    with pytest.raises(InvalidExecutable) as caught:
        describe_path(url, ref="missing")
    assert "s3cret-token" not in caught.value.message and "cannot clone" in caught.value.message


def test_clone_failures_are_clear(workflow_repository: Path) -> None:
    with pytest.raises(InvalidExecutable, match="cannot clone"):
        describe_path(workflow_repository.as_uri(), ref="no-such-branch")
    with pytest.raises(InvalidExecutable, match="transport"):
        describe_path("ext::sh -c touch% /tmp/pwned")
    with pytest.raises(InvalidExecutable, match="not a branch or tag"):
        describe_path(workflow_repository.as_uri(), ref="--upload-pack=touch /tmp/pwned")
