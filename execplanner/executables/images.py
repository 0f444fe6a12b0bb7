"""Container image references: "registry/namespace/name:tag@digest", as Docker and OCI tools read them.

docker.io is the default registry, "library/" its default namespace, "latest" the default tag. The same image
may be offered at several locations (mirrors); they must agree on the digest when one is given.
"""

from __future__ import annotations

import re

from execplanner.errors import InvalidExecutable
from execplanner.model.requirements import ContainerImage

DEFAULT_REGISTRY = "docker.io"
DEFAULT_TAG = "latest"
_REGISTRY_ALIASES = {"index.docker.io": DEFAULT_REGISTRY, "registry-1.docker.io": DEFAULT_REGISTRY}
_TRANSPORTS = ("docker://", "oci://", "docker.io://")

_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_REGISTRY = re.compile(r"^(?:localhost|[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*)(?::\d{1,5})?$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$")


def _split_registry(remainder: str) -> tuple[str, str]:
    first, _, rest = remainder.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return _REGISTRY_ALIASES.get(first.lower(), first.lower()), rest
    return DEFAULT_REGISTRY, remainder


def _split_tag(path: str) -> tuple[str, str]:
    last_slash = path.rfind("/")
    colon = path.rfind(":")
    if colon > last_slash:
        return path[:colon], path[colon + 1 :]
    return path, DEFAULT_TAG


def parse_image_reference(text: str) -> ContainerImage:
    """Parse one reference; raise InvalidExecutable saying which part is wrong."""
    original = text
    text = text.strip()
    for transport in _TRANSPORTS:
        if text.startswith(transport):
            text = text[len(transport) :]
    if not text:
        raise InvalidExecutable("empty container image reference")
    text, _, digest = text.partition("@")
    if digest and not _DIGEST.match(digest):
        raise InvalidExecutable(f"image {original!r}: digest {digest!r} is not algorithm:hex")
    registry, path = _split_registry(text)
    if not _REGISTRY.match(registry):
        raise InvalidExecutable(f"image {original!r}: registry {registry!r} is not a host name")
    path, tag = _split_tag(path)
    if not _TAG.match(tag):
        raise InvalidExecutable(f"image {original!r}: tag {tag!r} is not a valid tag")
    components = path.split("/")
    for component in components:
        if not _COMPONENT.match(component):
            raise InvalidExecutable(
                f"image {original!r}: {component!r} is not a valid name component (lower case letters, digits, . _ -)"
            )
    if registry == DEFAULT_REGISTRY and len(components) == 1:
        components = ["library", *components]
    namespace = "/".join(components[:-1]) or None
    reference = "/".join([registry, *components]) + ":" + tag
    return ContainerImage(
        reference=reference,
        registry=registry,
        namespace=namespace,
        name=components[-1],
        tag=tag,
        digest=digest or None,
        locations=[reference],
    )


def image_from_locations(locations: list[str], digest: str | None = None) -> ContainerImage:
    """One image offered at several locations; the first location names it."""
    if not locations:
        raise InvalidExecutable("a container image needs at least one location")
    parsed = [parse_image_reference(location) for location in locations]
    if digest is not None and not _DIGEST.match(digest):
        raise InvalidExecutable(f"digest {digest!r} is not algorithm:hex")
    digests = {image.digest for image in parsed if image.digest} | ({digest} if digest else set())
    if len(digests) > 1:
        raise InvalidExecutable(f"image locations disagree on the digest: {', '.join(sorted(digests))}")
    primary = parsed[0]
    seen: list[str] = []
    for image in parsed:
        if image.reference not in seen:
            seen.append(image.reference)
    return primary.model_copy(update={"digest": next(iter(digests), None), "locations": seen})
