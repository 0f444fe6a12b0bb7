"""Glance v2: images with their properties and visibility, as a project sees them.

Like Glance, a plain listing leaves out community images; `?visibility=community` or `?visibility=all` shows them.
"""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from execplanner.simcloud._http import ApiError, Call, sim_route
from execplanner.simcloud.records import Image

CREATED = "2024-03-12T09:00:00Z"


def _version(call: Call, vid: str, status: str) -> dict[str, Any]:
    return {"id": vid, "status": status, "links": [{"rel": "self", "href": f"{call.base}/image/v2/"}]}


async def versions(call: Call) -> Response:
    values = [_version(call, "v2.15", "CURRENT"), _version(call, "v2.9", "SUPPORTED")]
    return JSONResponse({"versions": values}, status_code=300 if call.request.url.path.endswith("/image/") else 200)


def image_doc(image: Image) -> dict[str, Any]:
    spec = image.spec
    doc: dict[str, Any] = {
        "id": image.id,
        "name": spec.name,
        "status": "active",
        "visibility": spec.visibility,
        "protected": False,
        "os_hidden": False,
        "owner": image.owner,
        "min_disk": spec.min_disk,
        "min_ram": spec.min_ram,
        "disk_format": spec.disk_format,
        "container_format": "bare",
        "size": spec.size,
        "virtual_size": None,
        "checksum": hashlib.md5(image.id.encode(), usedforsecurity=False).hexdigest(),
        "os_hash_algo": "sha512",
        "os_hash_value": hashlib.sha512(image.id.encode()).hexdigest(),
        "tags": [],
        "created_at": CREATED,
        "updated_at": CREATED,
        "self": f"/v2/images/{image.id}",
        "file": f"/v2/images/{image.id}/file",
        "schema": "/v2/schemas/image",
    }
    doc.update(spec.properties)
    return doc


def _listed(image: Image, visibility: str | None, project_id: str | None) -> bool:
    if visibility in (None, ""):
        return image.spec.visibility != "community"
    if visibility == "all":
        return True
    if visibility == "shared":
        return image.spec.visibility == "shared" and image.owner != project_id
    return image.spec.visibility == visibility


async def list_images(call: Call) -> Response:
    token = call.token()
    project_id = token.project_id or ""
    visibility, name = call.query("visibility"), call.query("name")
    filters = {
        k: v
        for k, v in call.request.query_params.items()
        if k not in ("visibility", "name", "limit", "marker", "sort", "sort_key", "sort_dir")
    }
    images = []
    for image in call.site.images.values():
        if not call.site.image_visible(image, project_id) or not _listed(image, visibility, project_id):
            continue
        doc = image_doc(image)
        if (name is None or doc["name"] == name) and all(str(doc.get(k)) == v for k, v in filters.items()):
            images.append(doc)
    return JSONResponse({"images": images, "first": "/v2/images", "schema": "/v2/schemas/images"})


async def show_image(call: Call) -> Response:
    token = call.token()
    image = call.site.images.get(call.request.path_params["image_id"])
    if image is None or not call.site.image_visible(image, token.project_id or ""):
        raise ApiError(404, f"No image found with ID {call.request.path_params['image_id']}")
    return JSONResponse(image_doc(image))


def routes() -> list[Route]:
    p = "/{site}/image"
    return [
        sim_route(p, versions, ["GET"], "image.versions", "image"),
        sim_route(p + "/", versions, ["GET"], "image.versions", "image"),
        sim_route(p + "/versions", versions, ["GET"], "image.versions", "image"),
        sim_route(p + "/v2/images", list_images, ["GET"], "image.images.list", "image"),
        sim_route(p + "/v2/images/{image_id}", show_image, ["GET"], "image.images.get", "image"),
    ]
