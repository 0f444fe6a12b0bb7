"""cloud-init user data for one session, per executable kind: what the VM installs, fetches and runs.

Every user-supplied string (image, URL, repository, ref, environment, names) goes into `runcmd` as one element
of an argv list, which cloud-init executes without a shell, or into a file's content; the only shell strings
are our own constants. References that a program could read as an option (a leading `-`) or URLs that are not
http(s) are refused. The document is built as data and dumped with `yaml.safe_dump`, so YAML quoting is exact.

The VM also gets a service manifest (`MANIFEST_PATH`): which ports serve what. It documents the VM on a real
cloud and is what the simulator's VM host reads to decide what answers where.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import yaml

from execplanner.errors import InvalidRequest
from execplanner.model.documents import Executable, Execution, Port
from execplanner.model.requirements import ExecutableKind

MANIFEST_PATH = "/etc/execplanner/services.json"
WORK_DIR = "/srv/execplanner/work"
DATA_DIR = "/srv/execplanner/data"
JUPYTER_PORT = 8888
JUPYTER_IMAGE = "quay.io/jupyter/scipy-notebook:2024-10-07"
SNAKEMAKE_IMAGE = "snakemake/snakemake:stable"
CONTAINER_NAME = "execplanner"
INSTALL_DOCKER = "command -v docker >/dev/null 2>&1 || (curl -fsSL https://get.docker.com | sh)"
INSTALL_REPO2DOCKER = "command -v repo2docker >/dev/null 2>&1 || python3 -m pip install --quiet jupyter-repo2docker"

BINDER_IMAGE = "execplanner-binder"  # the name repo2docker gives the image it builds on the VM
_IMAGE_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@+-]{0,511}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$")  # algorithm:hex, as executables/ reads it
_TRANSPORTS = ("docker://", "oci://", "docker.io://")  # prefixes a request may carry; `docker pull` takes none
_GIT_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/+-]{0,254}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_SAFE_FILE = re.compile(r"[^A-Za-z0-9._-]+")
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._/-]{0,255}$")


@dataclass(frozen=True)
class Service:
    """One port the VM serves: `jupyter` (token protected), `web` or `tcp`."""

    port: int
    kind: str
    token: str | None = None


@dataclass
class UserData:
    """The generated cloud-config and what it serves (for access details and the readiness probe)."""

    text: str
    services: list[Service] = field(default_factory=list)


# ---------------------------------------------------------------------- checks on user strings
def http_url(value: str | None, what: str) -> str:
    if not value:
        raise InvalidRequest(f"{what} is missing")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c in value for c in "\r\n\t "):
        raise InvalidRequest(f"{what} must be an http(s) URL, not {value!r}")
    return value


def image_reference(value: str | None) -> str:
    reference = value
    for transport in _TRANSPORTS:
        if reference and reference.startswith(transport):
            reference = reference[len(transport) :]
    if not reference or not _IMAGE_REF.match(reference):
        raise InvalidRequest(f"container image reference {value!r} is not valid")
    return reference


def git_ref(value: str) -> str:
    if not _GIT_REF.match(value) or ".." in value:
        raise InvalidRequest(f"repository ref {value!r} is not valid")
    return value


def mount_path(value: str) -> str:
    normal = posixpath.normpath(value)
    if not _SAFE_PATH.match(normal) or normal in ("/", "/etc", "/usr", "/bin", "/boot", "/proc", "/sys", "/dev"):
        raise InvalidRequest(f"volume path {value!r} is not allowed")
    return normal


def environment_args(environment: dict[str, str]) -> list[str]:
    args: list[str] = []
    for name, value in sorted(environment.items()):
        if not _ENV_NAME.match(name):
            raise InvalidRequest(f"environment variable name {name!r} is not valid")
        if "\n" in value or "\r" in value or "\0" in value:
            raise InvalidRequest(f"environment variable {name} holds a line break")
        args += ["-e", f"{name}={value}"]
    return args


def file_name(url: str, fallback: str) -> str:
    name = _SAFE_FILE.sub("_", posixpath.basename(urlsplit(url).path)).strip("._")
    return name[:128] or fallback


# ---------------------------------------------------------------------- data and volumes
def data_path(execution: Execution, name: str | None) -> str:
    """Where a data item lands: the path of the volume that lists it, else the shared data directory."""
    mounts = list(execution.volumes) + [v for c in execution.compute for v in c.volumes]
    for mount in mounts:
        if name and name in mount.resources:
            return mount_path(mount.path)
    return DATA_DIR


def data_commands(execution: Execution) -> list[list[str]]:
    """Download every data item with a location into its volume before anything starts."""
    commands = []
    for index, item in enumerate(execution.data):
        if not item.location:
            continue
        url = http_url(item.location, f"data[{index}].location")
        target = posixpath.join(data_path(execution, item.name), file_name(url, f"data-{index}"))
        commands.append(["curl", "-fsSL", "--retry", "3", "--create-dirs", "-o", target, url])
    return commands


STORAGE_DIR = "/srv/execplanner/storage"
MOUNT_VOLUME = (
    'dev=""; for i in $(seq 1 150); do for d in /dev/disk/by-id/virtio-"$1"*; do '
    '[ -e "$d" ] && dev="$d" && break 2; done; sleep 2; done; [ -n "$dev" ] || exit 1; '
    'blkid "$dev" >/dev/null 2>&1 || mkfs.ext4 -q "$dev"; mkdir -p "$2"; mount "$dev" "$2"'
)


def storage_mounts(execution: Execution) -> list[tuple[int, str]]:
    """(GiB, mount path) of each `storage` resource: the path of the volume that lists it, else its own
    directory under STORAGE_DIR."""
    mounts = []
    for index, storage in enumerate(execution.storage):
        size = storage.size_offered or storage.size
        gib = max(1, size.min or size.max or 1)
        path = data_path(execution, storage.name)
        mounts.append((gib, path if path != DATA_DIR else f"{STORAGE_DIR}/{index}"))
    return mounts


def mount_commands(volumes: list[tuple[str, str]]) -> list[list[str]]:
    """Format (when blank) and mount each attached volume, found by the serial Nova gives it (its id)."""
    return [["sh", "-c", MOUNT_VOLUME, "mount-volume", volume_id[:20], mount_path(path)] for volume_id, path in volumes]


def volume_args(execution: Execution) -> list[str]:
    """Every mount path, bound at the same path inside the container."""
    paths = {DATA_DIR} | {data_path(execution, item.name) for item in execution.data if item.location}
    paths |= {path for _, path in storage_mounts(execution)}
    for mount in list(execution.volumes) + [v for c in execution.compute for v in c.volumes]:
        paths.add(mount_path(mount.path))
    args: list[str] = []
    for path in sorted(paths):
        args += ["-v", f"{path}:{path}"]
    return args


# ---------------------------------------------------------------------- per kind
def _declared(ports: list[Port]) -> list[Service]:
    return [Service(p.internal, "tcp" if p.protocol.upper() == "UDP" else "web") for p in ports if p.access]


def _publish(services: list[Service]) -> list[str]:
    args: list[str] = []
    for service in services:
        args += ["-p", f"{service.port}:{service.port}"]
    return args


def _jupyter_run(image: str, token: str, execution: Execution) -> list[str]:
    return [
        "docker", "run", "-d", "--name", CONTAINER_NAME, "--restart", "unless-stopped",
        "-p", f"{JUPYTER_PORT}:{JUPYTER_PORT}", "-v", f"{WORK_DIR}:/home/jovyan/work", *volume_args(execution),
        image, "start-notebook.py", f"--IdentityProvider.token={token}", "--ServerApp.root_dir=/home/jovyan/work",
    ]  # fmt: skip


def docker_container(execution: Execution, token: str) -> tuple[list[list[str]], list[Service]]:
    executable = execution.executable
    image = image_reference(executable.image.locations[0] if executable.image and executable.image.locations else None)
    services = _declared(executable.ports)
    run = ["docker", "run", "-d", "--name", CONTAINER_NAME, "--restart", "unless-stopped", *_publish(services)]
    run += environment_args(executable.environment) + volume_args(execution)
    if executable.entrypoint:
        run += ["--entrypoint", executable.entrypoint]
    run += [image, *executable.command]
    return [["docker", "pull", image], run], services


def jupyter_notebook(execution: Execution, token: str) -> tuple[list[list[str]], list[Service]]:
    url = http_url(execution.executable.location, "the notebook's location")
    notebook = posixpath.join(WORK_DIR, file_name(url, "notebook.ipynb"))
    commands = [
        ["curl", "-fsSL", "--retry", "3", "--create-dirs", "-o", notebook, url],
        ["chown", "-R", "1000:100", WORK_DIR],
        _jupyter_run(JUPYTER_IMAGE, token, execution),
    ]
    return commands, [Service(JUPYTER_PORT, "jupyter", token)]


def prebuilt_image(executable: Executable) -> str | None:
    """The repository's prebuilt image (`image` beside `repository`: what repo2docker or a BinderHub pushed),
    pinned to its digest when one is given; None when there is none and the VM builds it."""
    image = executable.image
    if image is None or not image.locations:
        return None
    reference = image_reference(image.locations[0])
    if image.digest:
        if not _DIGEST.match(image.digest):
            raise InvalidRequest(f"image digest {image.digest!r} is not algorithm:hex")
        reference = reference if "@" in reference else f"{reference}@{image.digest}"
    return reference


def _repo2docker_build(executable: Executable, repository: str) -> list[list[str]]:
    build = ["repo2docker", "--no-run", "--user-id", "1000", "--user-name", "jovyan", "--image-name", BINDER_IMAGE]
    if executable.ref:
        build += ["--ref", git_ref(executable.ref)]
    return [["sh", "-c", INSTALL_REPO2DOCKER], [*build, repository]]


def binder_repository(execution: Execution, token: str) -> tuple[list[list[str]], list[Service]]:
    """A Jupyter server in the repository's environment: its prebuilt image pulled when the request names one,
    else built on the VM by repo2docker."""
    executable = execution.executable
    repository = http_url(executable.repository or executable.location, "the repository")
    prebuilt = prebuilt_image(executable)
    commands = [["docker", "pull", prebuilt]] if prebuilt else _repo2docker_build(executable, repository)
    run = ["docker", "run", "-d", "--name", CONTAINER_NAME, "-p", f"{JUPYTER_PORT}:{JUPYTER_PORT}"]
    run += [*volume_args(execution), prebuilt or BINDER_IMAGE]
    run += ["jupyter", "lab", "--ip=0.0.0.0", f"--port={JUPYTER_PORT}"]
    run += [f"--IdentityProvider.token={token}", "--ServerApp.token=" + token]
    return [*commands, run], [Service(JUPYTER_PORT, "jupyter", token)]


def snakemake_workflow(execution: Execution, token: str) -> tuple[list[list[str]], list[Service]]:
    executable = execution.executable
    repository = http_url(executable.repository or executable.location, "the workflow repository")
    checkout = posixpath.join(WORK_DIR, "workflow")
    clone = ["git", "clone", "--depth", "1"]
    if executable.ref:
        clone += ["--branch", git_ref(executable.ref)]
    run = ["docker", "run", "-d", "--name", CONTAINER_NAME, "-v", f"{checkout}:/work", "-w", "/work"]
    run += [*volume_args(execution), SNAKEMAKE_IMAGE, "snakemake", "--cores", "all", "--use-conda"]
    if executable.snakefile:
        run += ["--snakefile", _relative(executable.snakefile)]
    if executable.configfile:
        run += ["--configfile", _relative(executable.configfile)]
    return [[*clone, "--", repository, checkout], run], []


def _relative(path: str) -> str:
    normal = posixpath.normpath(path)
    if normal.startswith(("/", "..", "-")) or not _SAFE_PATH.match("/" + normal):
        raise InvalidRequest(f"workflow path {path!r} is not valid")
    return normal


COMPOSE_FILE = "/srv/execplanner/compose/compose.yaml"


def docker_compose(execution: Execution, token: str) -> tuple[list[list[str]], list[Service]]:
    executable = execution.executable
    commands = []
    if executable.compose is None and executable.location:
        url = http_url(executable.location, "the compose file's location")
        commands.append(["curl", "-fsSL", "--retry", "3", "--create-dirs", "-o", COMPOSE_FILE, url])
    elif executable.compose is None:
        raise InvalidRequest("a compose executable needs its compose file or its location")
    commands.append(["docker", "compose", "-f", COMPOSE_FILE, "-p", CONTAINER_NAME, "up", "-d"])
    return commands, _declared(executable.ports)


BUILDERS = {
    ExecutableKind.DOCKER_CONTAINER: docker_container,
    ExecutableKind.JUPYTER_NOTEBOOK: jupyter_notebook,
    ExecutableKind.BINDER_REPOSITORY: binder_repository,
    ExecutableKind.SNAKEMAKE_WORKFLOW: snakemake_workflow,
    ExecutableKind.DOCKER_COMPOSE: docker_compose,
}


def render(execution: Execution, session: str, token: str, volumes: Sequence[tuple[str, str]] = ()) -> UserData:
    """The cloud-config text for one session; `token` protects a Jupyter server (unused by other kinds);
    `volumes` are (volume id, mount path) of the attached block storage, mounted before data is fetched."""
    kind = execution.executable.kind
    builder = BUILDERS.get(kind)
    if builder is None:
        raise InvalidRequest(f"execplanner cannot launch a {kind.value} on a VM yet")
    commands, services = builder(execution, token)
    manifest = {"session": session, "kind": kind.value, "services": [_service_doc(s) for s in services]}
    files = [{"path": MANIFEST_PATH, "permissions": "0600", "content": json.dumps(manifest, indent=1) + "\n"}]
    if kind is ExecutableKind.DOCKER_COMPOSE and execution.executable.compose is not None:
        files.append({"path": COMPOSE_FILE, "permissions": "0644", "content": execution.executable.compose})
    document = {
        "write_files": files,
        "runcmd": [
            ["mkdir", "-p", WORK_DIR, DATA_DIR],
            *mount_commands(list(volumes)),
            *data_commands(execution),
            ["sh", "-c", INSTALL_DOCKER],
            *commands,
        ],
    }
    text = "#cloud-config\n" + yaml.safe_dump(document, sort_keys=False, width=4096, allow_unicode=False)
    return UserData(text=text, services=services)


def _service_doc(service: Service) -> dict[str, object]:
    doc: dict[str, object] = {"port": service.port, "kind": service.kind}
    if service.token:
        doc["token"] = service.token
    return doc
