"""`execplanner ask FILE` and `execplanner sessions …`: the offer/accept exchange from a terminal."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click
import requests

CONTENT_TYPES = {
    ".json": "application/json",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".xml": "application/xml",
}
URL_OPTION = click.option(
    "--url",
    envvar="EXECPLANNER_URL",
    default="http://127.0.0.1:8080",
    show_default=True,
    help="Base URL of the service. [env: EXECPLANNER_URL]",
)


def _fail(answer: requests.Response) -> None:
    try:
        messages = [m.get("message", "") for m in answer.json().get("messages", [])]
    except ValueError:
        messages = [answer.text[:500]]
    raise click.ClickException(f"{answer.status_code}: " + "; ".join(messages))


TOKEN_ENV_VARS = ("EXECPLANNER_OIDC_TOKEN", "OIDC_ACCESS_TOKEN")


def _authorization() -> dict[str, str]:
    """The caller's bearer token from the environment (never a flag: command lines are visible to others)."""
    token = next((os.environ[name].strip() for name in TOKEN_ENV_VARS if os.environ.get(name, "").strip()), None)
    return {"Authorization": f"Bearer {token}"} if token else {}


def _call(method: str, url: str, **kwargs: Any) -> dict[str, Any]:
    headers = {"Accept": "application/json", **_authorization(), **kwargs.pop("headers", {})}
    try:
        answer = requests.request(method, url, headers=headers, timeout=60, **kwargs)
    except requests.RequestException as exc:
        raise click.ClickException(f"cannot reach {url}: {exc}") from exc
    if answer.status_code >= 400:
        _fail(answer)
    return answer.json()


def _uuid(session: dict[str, Any]) -> str:
    return session.get("uuid") or session["meta"]["uuid"]


def _summary(session: dict[str, Any]) -> str:
    placement = session.get("placement", {})
    schedule = session.get("schedule", {})
    running = schedule.get("executing") or schedule.get("available") or {}
    return (
        f"{_uuid(session)}  {session['phase']:<9} {placement.get('site', '-'):<18} "
        f"{placement.get('flavor', '-'):<16} {placement.get('cores', '-')} cores {placement.get('memory', '-')} GiB"
        f"  start {running.get('start', '-').split('/')[0]}  for {running.get('duration', '-')}"
    )


@click.command()
@click.argument("document", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@URL_OPTION
@click.option("--accept-first", is_flag=True, help="Accept the best offer at once.")
@click.option("--json", "as_json", is_flag=True, help="Print the offer set as JSON.")
def ask(document: Path, url: str, accept_first: bool, as_json: bool) -> None:
    """Send an offer-set request DOCUMENT (JSON, YAML or XML) and list the offers."""
    content_type = CONTENT_TYPES.get(document.suffix.lower())
    if content_type is None:
        raise click.ClickException(f"cannot tell the format of {document.name}: use .json, .yaml or .xml")
    offerset = _call(
        "POST", f"{url.rstrip('/')}/offersets", data=document.read_bytes(), headers={"Content-Type": content_type}
    )
    if as_json:
        click.echo(json.dumps(offerset, indent=2))
    else:
        click.echo(f"{offerset['result']}  {offerset.get('href') or offerset['meta']['url']}")
        for offer in offerset["offers"]:
            click.echo("  " + _summary(offer))
        for message in offerset.get("messages", []):
            click.echo(f"  {message['level']}: {message['message']}")
    if accept_first and offerset["offers"]:
        session = _update(url, _uuid(offerset["offers"][0]), "ACCEPTED")
        click.echo("accepted " + _summary(session))


def _update(url: str, uuid: str, phase: str) -> dict[str, Any]:
    body = {"update": {"type": "uri:enum-value-update", "path": "phase", "value": phase}}
    return _call("POST", f"{url.rstrip('/')}/sessions/{uuid}", json=body)


@click.group()
def sessions() -> None:
    """Show, accept, reject or cancel a session."""


@sessions.command("show")
@click.argument("uuid")
@URL_OPTION
def show(uuid: str, url: str) -> None:
    click.echo(_summary(_call("GET", f"{url.rstrip('/')}/sessions/{uuid}")))


def _phase_command(name: str, phase: str) -> None:
    @sessions.command(name, help=f"Set a session's phase to {phase}.")
    @click.argument("uuid")
    @URL_OPTION
    def command(uuid: str, url: str) -> None:
        click.echo(_summary(_update(url, uuid, phase)))


for _name, _phase in (("accept", "ACCEPTED"), ("reject", "REJECTED"), ("cancel", "CANCELLED")):
    _phase_command(_name, _phase)
