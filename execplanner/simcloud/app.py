"""The federation's ASGI app: every site's APIs under `/<SITE>/...`, discovery at `/`, and the simulator's
own admin paths under `/_sim/` (fault injection, extra tokens, state, site-config files)."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from execplanner.simcloud import blockstorage, checkin, compute, identity, image, network
from execplanner.simcloud._http import SimulatedHeader, error_response
from execplanner.simcloud.federation import Federation
from execplanner.simcloud.siteconfig import auth_url, site_config_yaml
from execplanner.simcloud.spec import FaultSpec
from execplanner.simcloud.view import SiteView, site_view


def _federation(request: Request) -> Federation:
    return request.app.state.federation


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


async def discovery(request: Request) -> Response:
    """Everything a client needs to use the federation without a real token."""
    fed = _federation(request)
    sites = [
        {
            "name": s.name,
            "auth_url": auth_url(_base(request), s.name),
            "vos": s.vo_projects,
            "identity_provider": fed.spec.identity_provider,
            "protocol": fed.spec.protocol,
        }
        for s in fed.spec.sites
    ]
    return JSONResponse({"simulated": True, "sites": sites, "demo_token": fed.demo_token})


async def site_config(request: Request) -> Response:
    fed = _federation(request)
    name = request.path_params["name"]
    if name not in fed.sites:
        return error_response("sim", 404, f"No simulated site named {name!r}.")
    return PlainTextResponse(site_config_yaml(_base(request), fed.sites[name].spec), media_type="application/yaml")


async def list_faults(request: Request) -> Response:
    return JSONResponse({"faults": [r.as_dict() for r in _federation(request).faults.active()]})


async def add_fault(request: Request) -> Response:
    try:
        body: dict[str, Any] = await request.json()
        site = str(body.pop("site", "*"))
        times = body.pop("times", 1)
        spec = FaultSpec.model_validate(body)
    except ValueError as exc:
        return error_response("sim", 400, f"Invalid fault: {exc}")
    rule = _federation(request).faults.inject(
        site, spec.call, spec.kind, status=spec.status, seconds=spec.seconds, times=times, message=spec.message
    )
    return JSONResponse(rule.as_dict(), status_code=201)


async def clear_faults(request: Request) -> Response:
    rule_id = request.path_params.get("rule_id")
    faults = _federation(request).faults
    if rule_id is None:
        faults.clear(request.query_params.get("site"))
    elif not faults.remove(int(rule_id)):
        return error_response("sim", 404, f"No fault rule {rule_id}.")
    return Response(status_code=204)


async def show_fault(request: Request) -> Response:
    rule = _federation(request).faults.rule(request.path_params["rule_id"])
    if rule is None:
        return error_response("sim", 404, f"No fault rule {request.path_params['rule_id']}.")
    return JSONResponse(rule.as_dict())


async def release_fault(request: Request) -> Response:
    """Let a pause's held answers go (and remove it)."""
    if not _federation(request).faults.release(request.path_params["rule_id"]):
        return error_response("sim", 404, f"No fault rule {request.path_params['rule_id']}.")
    return Response(status_code=204)


async def add_token(request: Request) -> Response:
    try:
        body = await request.json()
        user = _federation(request).add_token(
            str(body["token"]), list(body.get("entitlements", [])), bool(body.get("expired", False)), body.get("name")
        )
    except (ValueError, KeyError) as exc:
        return error_response("sim", 400, f"Invalid token registration: {exc}")
    return JSONResponse(
        {"name": user.name, "entitlements": user.entitlements, "expired": user.expired}, status_code=201
    )


async def show_state(request: Request) -> Response:
    fed = _federation(request)
    name = request.path_params["name"]
    if name not in fed.sites:
        return error_response("sim", 404, f"No simulated site named {name!r}.")
    return JSONResponse(TypeAdapter(SiteView).dump_python(site_view(fed.sites[name]), mode="json"))


def create_app(federation: Federation) -> Starlette:
    admin = [
        Route("/", discovery, methods=["GET"]),
        Route("/_sim/site-config/{name}.yaml", site_config, methods=["GET"]),
        Route("/_sim/faults", list_faults, methods=["GET"]),
        Route("/_sim/faults", add_fault, methods=["POST"]),
        Route("/_sim/faults", clear_faults, methods=["DELETE"]),
        Route("/_sim/faults/{rule_id:int}", clear_faults, methods=["DELETE"]),
        Route("/_sim/faults/{rule_id:int}", show_fault, methods=["GET"]),
        Route("/_sim/faults/{rule_id:int}/release", release_fault, methods=["POST"]),
        Route("/_sim/tokens", add_token, methods=["POST"]),
        Route("/_sim/state/{name}", show_state, methods=["GET"]),
    ]
    routes = admin + identity.routes() + compute.routes() + image.routes() + network.routes()
    routes += blockstorage.routes() + checkin.routes()
    app = Starlette(routes=routes, middleware=[Middleware(SimulatedHeader)])
    app.state.federation = federation
    return app
