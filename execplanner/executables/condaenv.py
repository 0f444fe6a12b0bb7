"""conda environment files (environment.yml): the packages they install, conda and pip alike."""

from __future__ import annotations

from execplanner.executables.limits import DEFAULT_LIMITS, ParseLimits, decode_text
from execplanner.executables.packages import requirement_name
from execplanner.executables.safe_yaml import load_yaml
from execplanner.model.requirements import Requirements


def _conda_name(spec: str) -> str | None:
    spec = spec.split("::", 1)[-1]  # conda-forge::astropy
    return requirement_name(spec)


def conda_packages(
    data: bytes, name: str, limits: ParseLimits = DEFAULT_LIMITS, record: Requirements | None = None
) -> list[str]:
    """Package names in an environment file; a malformed file yields none and a WARN on `record`."""
    document = load_yaml(decode_text(data, name), name, limits)
    dependencies = document.get("dependencies") if isinstance(document, dict) else None
    if not isinstance(dependencies, list):
        if record is not None:
            record.warn("conda environment {file} lists no dependencies", file=name)
        return []
    packages: list[str] = []
    for entry in dependencies:
        if isinstance(entry, str):
            found = [_conda_name(entry)]
        elif isinstance(entry, dict) and isinstance(entry.get("pip"), list):
            found = [requirement_name(str(item)) for item in entry["pip"]]
        else:
            found = []
        for package in found:
            if package and package not in packages and package not in ("pip", "python"):
                packages.append(package)
    return packages


def conda_python_version(data: bytes, name: str, limits: ParseLimits = DEFAULT_LIMITS) -> str | None:
    document = load_yaml(decode_text(data, name), name, limits)
    for entry in (document or {}).get("dependencies", []) if isinstance(document, dict) else []:
        if isinstance(entry, str) and entry.split("::")[-1].startswith("python") and "=" in entry:
            name_part, _, version = entry.partition("=")
            if name_part.split("::")[-1].strip() == "python":
                return version.strip("=<> ") or None
    return None
