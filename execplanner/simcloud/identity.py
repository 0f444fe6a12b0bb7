"""Keystone v3 as an EGI FedCloud site runs it: OIDC federation (egi.eu / openid), token rescoping, password
auth for configured users, application credentials, and the service catalog of the site's endpoints."""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import datetime
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from execplanner.simcloud import blockstorage
from execplanner.simcloud._http import UNAUTHENTICATED, ApiError, Call, iso, iso_micro, sim_route
from execplanner.simcloud.federation import operator_vos
from execplanner.simcloud.records import AppCredential, KeystoneUser, Token, new_id, stable_id

SERVICES = (
    ("compute", "nova", "compute/v2.1"),
    ("image", "glance", "image"),
    ("network", "neutron", "network"),
    ("identity", "keystone", "identity/v3"),
)
MEDIA = [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]


def _version(base: str) -> dict[str, Any]:
    return {
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "media-types": MEDIA,
        "links": [{"rel": "self", "href": f"{base}/identity/v3/"}],
    }


async def versions(call: Call) -> Response:
    return JSONResponse({"versions": {"values": [_version(call.base)]}}, status_code=300)


async def version(call: Call) -> Response:
    return JSONResponse({"version": _version(call.base)})


# ---------------------------------------------------------------------- token documents
def _project_doc(call: Call, project_id: str) -> dict[str, Any]:
    project = call.site.projects[project_id]
    return {"id": project.id, "name": project.name, "domain": {"id": "default", "name": "Default"}}


def catalog(call: Call, project_id: str | None) -> list[dict[str, Any]]:
    entries = []
    for service_type, name, path in (*SERVICES, *blockstorage.catalogue_paths(call.site, project_id)):
        url = f"{call.base}/{path}"
        endpoints = [
            {
                "id": stable_id(call.site.name, service_type, iface),
                "interface": iface,
                "region": call.site.spec.region,
                "region_id": call.site.spec.region,
                "url": url,
            }
            for iface in ("public", "internal")
        ]
        entries.append(
            {"id": stable_id(call.site.name, service_type), "type": service_type, "name": name, "endpoints": endpoints}
        )
    return entries


def token_response(call: Call, token: Token, status: int = 201) -> Response:
    user = call.site.users[token.user_id]
    user_doc: dict[str, Any] = {"id": user.id, "name": user.name, "password_expires_at": None}
    if token.federated:
        user_doc["domain"] = {"id": "Federated", "name": "Federated"}
        user_doc["OS-FEDERATION"] = {
            "identity_provider": {"id": call.federation.spec.identity_provider},
            "protocol": {"id": call.federation.spec.protocol},
            "groups": [],
        }
    else:
        user_doc["domain"] = {"id": "default", "name": "Default"}
    body: dict[str, Any] = {
        "methods": token.methods,
        "user": user_doc,
        "audit_ids": [token.id[:22]],
        "issued_at": iso_micro(token.issued_at),
        "expires_at": iso_micro(token.expires_at),
    }
    if token.project_id:
        body["project"] = _project_doc(call, token.project_id)
        body["is_domain"] = False
        body["roles"] = [{"id": stable_id("role", "member", dashed=False), "name": "member"}]
        body["catalog"] = catalog(call, token.project_id)
    if token.app_cred_id:
        cred = call.site.app_credentials[token.app_cred_id]
        body["application_credential"] = {"id": cred.id, "name": cred.name, "restricted": not cred.unrestricted}
    return JSONResponse({"token": body}, status_code=status, headers={"X-Subject-Token": token.id})


def _issue(
    call: Call,
    user: KeystoneUser,
    project_id: str | None,
    methods: list[str],
    *,
    federated: bool,
    app_cred: AppCredential | None = None,
) -> Token:
    now = time.time()
    expires = now + call.site.spec.token_ttl
    if app_cred is not None and app_cred.expires_at is not None:
        expires = min(expires, app_cred.expires_at)
    token = Token(
        id="gAAAAA" + secrets.token_urlsafe(48),
        user_id=user.id,
        user_name=user.name,
        project_id=project_id,
        methods=methods,
        issued_at=now,
        expires_at=expires,
        federated=federated,
        app_cred_id=app_cred.id if app_cred else None,
    )
    with call.site.lock:
        call.site.forget_expired_tokens()
        call.site.tokens[token.id] = token
    return token


def _site_user(call: Call, name: str, vos: set[str], *, federated: bool) -> KeystoneUser:
    """The site's Keystone record of a user, refreshed with the projects its VOs map to at this site."""
    user_id = stable_id(call.site.name, "user", name, dashed=False)
    projects = sorted(pid for vo in vos if (pid := call.site.project_of_vo(vo)))
    user = KeystoneUser(id=user_id, name=name, project_ids=projects, federated=federated)
    with call.site.lock:
        call.site.users[user_id] = user
    return user


# ---------------------------------------------------------------------- authentication
async def federated_auth(call: Call) -> Response:
    spec = call.federation.spec
    idp, protocol = call.request.path_params["idp"], call.request.path_params["protocol"]
    if not call.site.spec.oidc_federation:  # Keystone with no such identity provider configured
        raise ApiError(404, f"Could not find Identity Provider: {idp}.")
    if idp != spec.identity_provider or protocol != spec.protocol:
        raise ApiError(404, f"Could not find Identity Provider/protocol: {idp}/{protocol}.")
    header = call.request.headers.get("authorization", "")
    access_token = header[7:].strip() if header.lower().startswith("bearer ") else None
    oidc = call.federation.oidc_user(access_token)
    if oidc is None:
        raise ApiError(401, UNAUTHENTICATED)
    user = _site_user(call, oidc.name, operator_vos(oidc.entitlements), federated=True)
    return token_response(call, _issue(call, user, None, [protocol], federated=True))


def _scope_project(call: Call, user: KeystoneUser, scope: dict[str, Any] | None) -> str | None:
    if not scope or "project" not in scope:
        return None
    wanted = scope["project"]
    project_id = wanted.get("id")
    if project_id is None and "name" in wanted:
        project_id = next((p.id for p in call.site.projects.values() if p.name == wanted["name"]), None)
    if project_id is None or project_id not in user.project_ids:
        raise ApiError(401, f"User {user.id} has no access to project {wanted.get('id') or wanted.get('name')}")
    return project_id


async def auth_tokens(call: Call) -> Response:
    auth = (await call.body()).get("auth") or {}
    identity = auth.get("identity") or {}
    methods = identity.get("methods") or []
    if "token" in methods:
        return _auth_by_token(call, identity.get("token") or {}, auth.get("scope"))
    if "password" in methods:
        return _auth_by_password(call, (identity.get("password") or {}).get("user") or {}, auth.get("scope"))
    if "application_credential" in methods:
        return _auth_by_app_cred(call, identity.get("application_credential") or {})
    raise ApiError(400, f"Unsupported authentication methods: {methods}")


def _auth_by_token(call: Call, token_body: dict[str, Any], scope: dict[str, Any] | None) -> Response:
    old = call.site.live_token(token_body.get("id"))
    if old is None:
        raise ApiError(401, UNAUTHENTICATED)
    user = call.site.users[old.user_id]
    if old.federated:  # entitlements may have changed since: re-read them, as the mapping does
        oidc = next((u for u in call.federation.oidc_users.values() if u.name == user.name), None)
        if oidc is not None:
            user = _site_user(call, oidc.name, operator_vos(oidc.entitlements), federated=True)
    project_id = _scope_project(call, user, scope)
    methods = sorted({*old.methods, "token"})
    return token_response(call, _issue(call, user, project_id, methods, federated=old.federated))


def _auth_by_password(call: Call, body: dict[str, Any], scope: dict[str, Any] | None) -> Response:
    for configured in call.federation.spec.password_users:
        user_id = stable_id(call.site.name, "user", configured.name, dashed=False)
        named = body.get("name") == configured.name or body.get("id") == user_id
        if named and secrets.compare_digest(str(body.get("password", "")), configured.password):
            user = _site_user(call, configured.name, set(configured.vos), federated=False)
            project_id = _scope_project(call, user, scope)
            return token_response(call, _issue(call, user, project_id, ["password"], federated=False))
    raise ApiError(401, UNAUTHENTICATED)


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _auth_by_app_cred(call: Call, body: dict[str, Any]) -> Response:
    secret = str(body.get("secret", ""))
    with call.site.lock:
        creds = list(call.site.app_credentials.values())
    for cred in creds:
        by_id = body.get("id") == cred.id
        by_name = body.get("name") == cred.name and (body.get("user") or {}).get("id") == cred.user_id
        if (by_id or by_name) and secrets.compare_digest(_secret_hash(secret), cred.secret_sha256):
            if cred.expires_at is not None and cred.expires_at <= time.time():
                break
            user = call.site.users[cred.user_id]
            token = _issue(
                call, user, cred.project_id, ["application_credential"], federated=user.federated, app_cred=cred
            )
            return token_response(call, token)
    raise ApiError(401, UNAUTHENTICATED)


async def validate_token(call: Call) -> Response:
    call.token()
    subject = call.site.live_token(call.request.headers.get("x-subject-token"))
    if subject is None:
        raise ApiError(404, "Could not find token.")
    return token_response(call, subject, status=200)


async def revoke_token(call: Call) -> Response:
    call.token()
    with call.site.lock:
        call.site.tokens.pop(call.request.headers.get("x-subject-token", ""), None)
    return Response(status_code=204)


# ---------------------------------------------------------------------- projects and catalog
def _project_listing(call: Call, project_id: str) -> dict[str, Any]:
    project = call.site.projects[project_id]
    return {
        "id": project.id,
        "name": project.name,
        "domain_id": "default",
        "enabled": True,
        "description": f"EGI VO {project.vo}",
        "is_domain": False,
        "parent_id": "default",
        "tags": [],
        "links": {"self": f"{call.base}/identity/v3/projects/{project.id}"},
    }


async def show_project(call: Call) -> Response:
    """A user may read the projects it has a role on (Keystone's default policy); others are 403."""
    token = call.token()
    project_id = call.request.path_params["project_id"]
    if project_id not in call.site.users[token.user_id].project_ids:
        raise ApiError(403, "You are not authorized to perform the requested action: identity:get_project.")
    return JSONResponse({"project": _project_listing(call, project_id)})


async def list_projects(call: Call) -> Response:
    """`GET /v3/projects` and `/v3/users/{id}/projects`, limited to the caller's own projects."""
    token = call.token()
    name = call.query("name")
    docs = [_project_listing(call, pid) for pid in call.site.users[token.user_id].project_ids]
    docs = [d for d in docs if name is None or d["name"] == name]
    return JSONResponse({"projects": docs, "links": {"self": str(call.request.url), "next": None, "previous": None}})


async def auth_projects(call: Call) -> Response:
    token = call.token()
    projects = [_project_listing(call, pid) for pid in call.site.users[token.user_id].project_ids]
    links = {"self": str(call.request.url), "next": None, "previous": None}
    return JSONResponse({"projects": projects, "links": links})


async def auth_catalog(call: Call) -> Response:
    token = call.project_token()
    return JSONResponse({"catalog": catalog(call, token.project_id), "links": {"self": str(call.request.url)}})


# ---------------------------------------------------------------------- application credentials
def _own_user(call: Call) -> Token:
    token = call.token()
    if call.request.path_params["user_id"] != token.user_id:
        raise ApiError(403, "You are not authorized to perform the requested action.")
    return token


def _cred_doc(call: Call, cred: AppCredential, secret: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": cred.id,
        "name": cred.name,
        "description": cred.description,
        "user_id": cred.user_id,
        "project_id": cred.project_id,
        "unrestricted": cred.unrestricted,
        "access_rules": [],
        "expires_at": iso(cred.expires_at) if cred.expires_at else None,
        "roles": [{"id": stable_id("role", "member", dashed=False), "name": "member", "domain_id": None}],
        "links": {"self": f"{call.base}/identity/v3/users/{cred.user_id}/application_credentials/{cred.id}"},
    }
    if secret is not None:
        doc["secret"] = secret
    return doc


RESTRICTED_APP_CRED = (
    "You are not authorized to perform the requested action: Using method 'application_credential' is not allowed "
    "for managing additional application credentials."
)


def _check_unrestricted_application_credential(call: Call, token: Token) -> None:
    """Keystone's own rule (keystone/api/users.py): a token obtained with a *restricted* application credential
    may neither create nor delete application credentials — not even delete itself. Listing and reading are
    allowed."""
    if "application_credential" not in token.methods:
        return
    cred = call.site.app_credentials.get(token.app_cred_id or "")
    if cred is None or not cred.unrestricted:
        raise ApiError(403, RESTRICTED_APP_CRED)


async def create_app_cred(call: Call) -> Response:
    token = _own_user(call)
    if token.project_id is None:
        raise ApiError(401, "Application credentials need a project-scoped token.")
    _check_unrestricted_application_credential(call, token)
    body = (await call.body()).get("application_credential") or {}
    if not body.get("name"):
        raise ApiError(400, "Invalid input for field 'name': None is not of type 'string'")
    with call.site.lock:
        if any(c.name == body["name"] and c.user_id == token.user_id for c in call.site.app_credentials.values()):
            raise ApiError(
                409,
                f"Conflict occurred attempting to store application_credential - Duplicate entry "
                f"found with name {body['name']}.",
            )
        secret = body.get("secret") or secrets.token_urlsafe(64)
        expires = body.get("expires_at")
        cred = AppCredential(
            id=new_id(dashed=False),
            name=body["name"],
            user_id=token.user_id,
            project_id=token.project_id,
            secret_sha256=_secret_hash(secret),
            description=body.get("description"),
            expires_at=datetime.fromisoformat(expires.replace("Z", "+00:00")).timestamp() if expires else None,
            unrestricted=bool(body.get("unrestricted", False)),
            created=time.time(),
        )
        call.site.app_credentials[cred.id] = cred
    return JSONResponse({"application_credential": _cred_doc(call, cred, secret)}, status_code=201)


async def list_app_creds(call: Call) -> Response:
    token = _own_user(call)
    name = call.query("name")
    with call.site.lock:
        creds = [
            c
            for c in call.site.app_credentials.values()
            if c.user_id == token.user_id and (name is None or c.name == name)
        ]
    return JSONResponse(
        {
            "application_credentials": [_cred_doc(call, c) for c in creds],
            "links": {"self": str(call.request.url), "next": None, "previous": None},
        }
    )


def _find_cred(call: Call) -> AppCredential:
    token = _own_user(call)
    cred = call.site.app_credentials.get(call.request.path_params["cred_id"])
    if cred is None or cred.user_id != token.user_id:
        raise ApiError(404, f"Could not find application credential: {call.request.path_params['cred_id']}.")
    return cred


async def get_app_cred(call: Call) -> Response:
    return JSONResponse({"application_credential": _cred_doc(call, _find_cred(call))})


async def delete_app_cred(call: Call) -> Response:
    _check_unrestricted_application_credential(call, call.token())
    cred = _find_cred(call)
    with call.site.lock:
        call.site.app_credentials.pop(cred.id, None)
        for token_id in [t.id for t in call.site.tokens.values() if t.app_cred_id == cred.id]:
            del call.site.tokens[token_id]
    return Response(status_code=204)


def routes() -> list[Route]:
    p = "/{site}/identity"
    v3 = p + "/v3"
    creds = v3 + "/users/{user_id}/application_credentials"
    fed = v3 + "/OS-FEDERATION"
    return [
        sim_route(p, versions, ["GET"], "identity.versions", "identity"),
        sim_route(p + "/", versions, ["GET"], "identity.versions", "identity"),
        sim_route(v3, version, ["GET"], "identity.version", "identity"),
        sim_route(v3 + "/", version, ["GET"], "identity.version", "identity"),
        sim_route(
            fed + "/identity_providers/{idp}/protocols/{protocol}/auth",
            federated_auth,
            ["GET", "POST"],
            "identity.auth.federated",
            "identity",
        ),
        sim_route(v3 + "/auth/tokens", auth_tokens, ["POST"], "identity.auth.tokens", "identity"),
        sim_route(v3 + "/auth/tokens", validate_token, ["GET", "HEAD"], "identity.tokens.validate", "identity"),
        sim_route(v3 + "/auth/tokens", revoke_token, ["DELETE"], "identity.tokens.revoke", "identity"),
        sim_route(v3 + "/auth/projects", auth_projects, ["GET"], "identity.projects.list", "identity"),
        sim_route(fed + "/projects", auth_projects, ["GET"], "identity.projects.list", "identity"),
        sim_route(v3 + "/projects", list_projects, ["GET"], "identity.projects.list", "identity"),
        sim_route(v3 + "/users/{user_id}/projects", list_projects, ["GET"], "identity.projects.list", "identity"),
        sim_route(v3 + "/projects/{project_id}", show_project, ["GET"], "identity.projects.get", "identity"),
        sim_route(v3 + "/auth/catalog", auth_catalog, ["GET"], "identity.catalog", "identity"),
        sim_route(creds, create_app_cred, ["POST"], "identity.application_credentials.create", "identity"),
        sim_route(creds, list_app_creds, ["GET"], "identity.application_credentials.list", "identity"),
        sim_route(creds + "/{cred_id}", get_app_cred, ["GET"], "identity.application_credentials.get", "identity"),
        sim_route(
            creds + "/{cred_id}", delete_app_cred, ["DELETE"], "identity.application_credentials.delete", "identity"
        ),
    ]
