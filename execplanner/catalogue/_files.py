"""Catalogue ↔ files: YAML or JSON by extension, validation errors that name the file and the field's path."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from execplanner.catalogue.model import Catalogue
from execplanner.errors import CatalogueError

_NEW_FILE_MODE = 0o644  # a catalogue holds no secret; mkstemp's 0600 would hide it from the service user
_YAML_SUFFIXES = {".yaml", ".yml"}
_JSON_SUFFIXES = {".json"}

try:  # libyaml is several times faster on a large catalogue
    _YamlLoader: Any = yaml.CSafeLoader
    _YamlDumper: Any = yaml.CSafeDumper
except AttributeError:  # pragma: no cover - pure-python PyYAML
    _YamlLoader = yaml.SafeLoader
    _YamlDumper = yaml.SafeDumper


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building a large tree of fresh objects.

    Parsing allocates hundreds of thousands of objects and none of them is garbage yet; without this the
    collector runs over and over and a 100x-EGI catalogue loads 3-6x slower.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def json_path(location: Sequence[int | str]) -> str:
    """('sites', 3, 'vos', 0, 'ram') -> '$.sites[3].vos[0].ram'."""
    text = "$"
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _format_errors(origin: str, exc: ValidationError) -> CatalogueError:
    details = [f"{json_path(err['loc'])}: {err['msg']}" for err in exc.errors(include_url=False)]
    return CatalogueError(f"invalid catalogue {origin}: {details[0]}", details=details)


def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in _YAML_SUFFIXES:
        return "yaml"
    if suffix in _JSON_SUFFIXES:
        return "json"
    raise CatalogueError(f"catalogue {path}: unknown extension {suffix!r} (use .yaml, .yml or .json)")


def catalogue_from_document(document: Any, origin: str) -> Catalogue:
    if not isinstance(document, dict):
        raise CatalogueError(f"invalid catalogue {origin}: $: expected a mapping, got {type(document).__name__}")
    try:
        return Catalogue.model_validate(document)
    except ValidationError as exc:
        raise _format_errors(origin, exc) from exc


def read_document(path: Path) -> Any:
    """The file's plain content, parsed but not validated."""
    kind = _format(path)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise CatalogueError(f"cannot read catalogue {path}: {exc.strerror or exc}") from exc
    try:
        return json.loads(text) if kind == "json" else yaml.load(text, Loader=_YamlLoader)  # noqa: S506 - safe
    except (ValueError, yaml.YAMLError) as exc:
        raise CatalogueError(f"invalid catalogue {path}: not well-formed {kind.upper()}: {exc}") from exc


def load_catalogue(path: Path) -> Catalogue:
    if _format(path) == "json":
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise CatalogueError(f"cannot read catalogue {path}: {exc.strerror or exc}") from exc
        try:
            with _gc_paused():
                return Catalogue.model_validate_json(raw)
        except ValidationError as exc:
            if any(err["type"] == "json_invalid" for err in exc.errors()):
                reason = exc.errors()[0]["msg"]
                raise CatalogueError(f"invalid catalogue {path}: not well-formed JSON: {reason}") from exc
            raise _format_errors(str(path), exc) from exc
    with _gc_paused():
        return catalogue_from_document(read_document(path), str(path))


def dump_catalogue(catalogue: Catalogue, kind: str) -> str:
    """The catalogue as JSON or YAML text."""
    if kind == "json":
        return catalogue.model_dump_json(indent=1, exclude_none=True) + "\n"
    return yaml.dump(catalogue.to_document(), Dumper=_YamlDumper, sort_keys=False, allow_unicode=True, width=110)


def save_catalogue(catalogue: Catalogue, path: Path) -> None:
    """Write atomically (temp file + rename) so a reloading service never reads half a catalogue."""
    text = dump_catalogue(catalogue, _format(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            os.fchmod(fh.fileno(), path.stat().st_mode & 0o777 if path.exists() else _NEW_FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
