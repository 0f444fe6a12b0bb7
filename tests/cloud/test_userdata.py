"""cloud-init per executable kind: parsed back as YAML, checked for what it runs, and never a shell for a
user's string, however hostile."""

from __future__ import annotations

import json

import pytest
import yaml

from execplanner.cloud.userdata import MANIFEST_PATH, render
from execplanner.errors import InvalidRequest
from execplanner.model.documents import (
    DataResource,
    Executable,
    Execution,
    Image,
    Port,
    VolumeMount,
)
from execplanner.model.requirements import ExecutableKind as K

TOKEN = "tok-123"
HOSTILE = "x'; rm -rf / #$(reboot)`id`\"\\"


def _doc(execution: Execution) -> dict:
    text = render(execution, "3f1c0d4e-0000-4000-8000-000000000001", TOKEN).text
    assert text.startswith("#cloud-config\n")
    return yaml.safe_load(text)


def _argv(doc: dict) -> list[list[str]]:
    return [c for c in doc["runcmd"]]


def _only_our_shells(doc: dict) -> None:
    """Every runcmd entry is an argv list; any `sh -c` carries one of our constants, no user string."""
    for command in doc["runcmd"]:
        assert isinstance(command, list), command
        if command[:2] == ["sh", "-c"]:
            assert HOSTILE not in command[2] and "http" not in command[2].replace("https://get.docker.com", "")


def _manifest(doc: dict) -> dict:
    entry = next(f for f in doc["write_files"] if f["path"] == MANIFEST_PATH)
    return json.loads(entry["content"])


def test_container_runs_with_ports_env_and_volumes() -> None:
    execution = Execution(
        executable=Executable(
            kind=K.DOCKER_CONTAINER,
            image=Image(locations=["ghcr.io/oligia/desktop:1.2"]),
            ports=[Port(internal=3000)],
            environment={"GREETING": HOSTILE},
            command=["serve", HOSTILE],
        ),
        volumes=[VolumeMount(name="v", path="/data/in", resources=["cat"])],
        data=[DataResource(name="cat", location="https://example.org/cats/cat%20one.fits?x=1")],
    )
    doc = _doc(execution)
    _only_our_shells(doc)
    run = next(c for c in doc["runcmd"] if c[:2] == ["docker", "run"])
    assert run[run.index("-p") + 1] == "3000:3000"
    assert f"GREETING={HOSTILE}" in run  # one argv element: the container sees it verbatim
    assert run[-3:] == ["ghcr.io/oligia/desktop:1.2", "serve", HOSTILE]
    assert "/data/in:/data/in" in run
    download = next(c for c in doc["runcmd"] if c[0] == "curl")
    assert download[-2:] == ["/data/in/cat_20one.fits", "https://example.org/cats/cat%20one.fits?x=1"]
    assert doc["runcmd"].index(download) < doc["runcmd"].index(run)  # data first
    assert _manifest(doc)["services"] == [{"port": 3000, "kind": "web"}]


def test_notebook_gets_a_jupyter_server_with_its_token() -> None:
    execution = Execution(
        executable=Executable(kind=K.JUPYTER_NOTEBOOK, location="https://example.org/nb/analysis.ipynb")
    )
    doc = _doc(execution)
    fetch = next(c for c in doc["runcmd"] if c[0] == "curl")
    assert fetch[-2:] == ["/srv/execplanner/work/analysis.ipynb", "https://example.org/nb/analysis.ipynb"]
    run = next(c for c in doc["runcmd"] if c[:2] == ["docker", "run"])
    assert f"--IdentityProvider.token={TOKEN}" in run and "8888:8888" in run
    assert _manifest(doc)["services"] == [{"port": 8888, "kind": "jupyter", "token": TOKEN}]


def test_binder_snakemake_and_compose() -> None:
    binder = _doc(
        Execution(executable=Executable(kind=K.BINDER_REPOSITORY, repository="https://github.com/a/b", ref="v1"))
    )
    assert any(c[0] == "repo2docker" and c[-1] == "https://github.com/a/b" and "v1" in c for c in binder["runcmd"])
    snake = _doc(
        Execution(
            executable=Executable(
                kind=K.SNAKEMAKE_WORKFLOW, repository="https://github.com/hi/friends", snakefile="workflow/Snakefile"
            )
        )
    )
    clone = next(c for c in snake["runcmd"] if c[:2] == ["git", "clone"])
    assert clone[-3:] == ["--", "https://github.com/hi/friends", "/srv/execplanner/work/workflow"]
    assert any("--snakefile" in c for c in snake["runcmd"])
    assert _manifest(snake)["services"] == []
    compose_text = f"services:\n  web:\n    image: nginx\n    environment: [A={HOSTILE}]\n"
    compose = _doc(
        Execution(executable=Executable(kind=K.DOCKER_COMPOSE, compose=compose_text, ports=[Port(internal=80)]))
    )
    written = next(f for f in compose["write_files"] if f["path"].endswith("compose.yaml"))
    assert written["content"] == compose_text  # a file's content, never a command line
    _only_our_shells(compose)


@pytest.mark.parametrize(
    "executable",
    [
        Executable(kind=K.DOCKER_CONTAINER, image=Image(locations=["--privileged"])),
        Executable(kind=K.DOCKER_CONTAINER, image=Image(locations=["alpine; reboot"])),
        Executable(kind=K.DOCKER_CONTAINER, image=Image(locations=["alpine"]), environment={"A B": "x"}),
        Executable(kind=K.DOCKER_CONTAINER, image=Image(locations=["alpine"]), environment={"A": "x\nruncmd: [id]"}),
        Executable(kind=K.JUPYTER_NOTEBOOK, location="file:///etc/shadow"),
        Executable(kind=K.JUPYTER_NOTEBOOK, location="-o/etc/passwd http://x"),
        Executable(kind=K.BINDER_REPOSITORY, repository="https://github.com/a/b", ref="--upload-pack=touch /tmp/x"),
        Executable(kind=K.SNAKEMAKE_WORKFLOW, repository="https://github.com/a/b", snakefile="../../etc/passwd"),
    ],
)
def test_hostile_references_are_refused(executable: Executable) -> None:
    with pytest.raises(InvalidRequest):
        render(Execution(executable=executable), "s", TOKEN)


def test_hostile_volume_path_is_refused() -> None:
    execution = Execution(
        executable=Executable(kind=K.DOCKER_CONTAINER, image=Image(locations=["alpine"])),
        volumes=[VolumeMount(path="/etc", resources=[])],
    )
    with pytest.raises(InvalidRequest, match="not allowed"):
        render(execution, "s", TOKEN)


# ---------------------------------------------------------------- Binder: a prebuilt image instead of a build
BINDER_2026 = "https://www.purl.org/ivoa.net/EB/schema/v1.0/types/executable/binder-repository-1.0"
PREBUILT = "quay.io/ivoa/hcg-16-binder:2024.1"
DIGEST = "sha256:" + "0123456789abcdef" * 4
NASTY_REPOSITORY = "https://github.com/a/b'\"$(reboot)`id`;x"  # a valid URL, still only ever one argv element


def _binder(**fields: object) -> dict:
    return _doc(Execution(executable=Executable(kind=K.BINDER_REPOSITORY, **fields)))  # type: ignore[arg-type]


def _run(doc: dict) -> list[str]:
    return next(c for c in doc["runcmd"] if c[:2] == ["docker", "run"])


def test_binder_with_a_prebuilt_image_pulls_and_runs_it_without_building() -> None:
    doc = _binder(repository=NASTY_REPOSITORY, ref="v1", image=Image(locations=["docker://" + PREBUILT], digest=DIGEST))
    _only_our_shells(doc)
    pinned = f"{PREBUILT}@{DIGEST}"
    assert ["docker", "pull", pinned] in doc["runcmd"]
    flat = json.dumps(doc["runcmd"])
    assert "repo2docker" not in flat and "execplanner-binder" not in flat  # nothing is built
    assert NASTY_REPOSITORY not in flat  # the image is what runs; the repository only describes it
    run = _run(doc)
    assert run[run.index(pinned) + 1 :][:2] == ["jupyter", "lab"]
    assert f"--IdentityProvider.token={TOKEN}" in run and "8888:8888" in run
    assert doc["runcmd"].index(["docker", "pull", pinned]) < doc["runcmd"].index(run)
    assert _manifest(doc)["services"] == [{"port": 8888, "kind": "jupyter", "token": TOKEN}]


def test_binder_without_an_image_is_built_by_repo2docker_and_a_hostile_url_stays_one_argument() -> None:
    doc = _binder(repository=NASTY_REPOSITORY, ref="main")
    _only_our_shells(doc)
    build = next(c for c in doc["runcmd"] if c[0] == "repo2docker")
    assert build[-1] == NASTY_REPOSITORY and build[build.index("--ref") + 1] == "main"
    assert not any(NASTY_REPOSITORY in part for c in doc["runcmd"] if c[:2] == ["sh", "-c"] for part in c)
    assert _run(doc)[_run(doc).index("execplanner-binder") + 1] == "jupyter"
    assert not any(c[:2] == ["docker", "pull"] for c in doc["runcmd"])


@pytest.mark.parametrize(
    "image",
    [
        Image(locations=[HOSTILE]),
        Image(locations=["alpine$(reboot)"]),
        Image(locations=["alpine'; reboot; '"]),
        Image(locations=["alpine\nruncmd: [[id]]"]),
        Image(locations=["--privileged"]),
        Image(locations=[PREBUILT], digest="sha256:abc$(reboot)"),
        Image(locations=[PREBUILT], digest="sha256:" + "0" * 31),
    ],
)
def test_hostile_prebuilt_images_are_refused(image: Image) -> None:
    executable = Executable(kind=K.BINDER_REPOSITORY, repository="https://github.com/a/b", image=image)
    with pytest.raises(InvalidRequest):
        render(Execution(executable=executable), "s", TOKEN)


def _binder_request(fmt: str) -> bytes:
    executable = {"kind": BINDER_2026, "repository": "https://github.com/a/b", "image": {"locations": [PREBUILT]}}
    document = {"executable": executable, "schedule": {"requested": {"duration": "PT1H"}}}
    if fmt == "json":
        return json.dumps(document).encode()
    if fmt == "yaml":
        return yaml.safe_dump(document).encode()
    from execplanner.formats import xmltree

    return xmltree.render(document, root="offers-request")


@pytest.mark.parametrize("fmt", ["json", "yaml", "xml"])
def test_a_request_names_the_prebuilt_image_beside_the_repository_in_every_format(fmt: str) -> None:
    """`image` beside `repository`: the same field a docker-container has, valid against our schemas."""
    from formats.test_schemas import json_problems, xml_problems

    from execplanner.formats.decode import read_offerset_request
    from execplanner.formats.media import Format
    from execplanner.formats.tree import parse

    data = _binder_request(fmt)
    tree = parse(data, Format(fmt), root="offers-request")
    if fmt == "xml":
        assert xml_problems(data, "offers-request") == []
    else:
        assert json_problems("offerset-request.schema.json", tree) == []
    request = read_offerset_request(tree)
    doc = _doc(Execution(executable=request.executable))
    assert ["docker", "pull", PREBUILT] in doc["runcmd"] and PREBUILT in _run(doc)
