"""`execplanner ask` and `execplanner sessions …`: the offer/accept exchange from a terminal.

Exit codes (docs/configuration.md): 0 done; 1 bad input (a document or option that cannot be read); 2 usage;
3 the answer is NO, or a watched session ended without running; 4 the service answered with an HTTP error;
5 the service cannot be reached; 6 no token could be had from oidc-agent."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import click

from execplanner.client import render, tokens
from execplanner.client.asking import Overrides, outgoing
from execplanner.client.broker import BrokerClient
from execplanner.client.views import SessionView
from execplanner.errors import AnsweredNo

DEFAULT_URL = "http://127.0.0.1:8080"


def service_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--url, --token, --oidc-agent and --output: how every client command reaches the service and prints."""
    options = [
        click.option(
            "--url",
            envvar="EXECPLANNER_URL",
            default=DEFAULT_URL,
            show_default=True,
            help="Base URL of the service; without a scheme, http:// for loopback and https:// otherwise. "
            "[env: EXECPLANNER_URL]",
        ),
        click.option(
            "--token",
            default=None,
            help="Bearer token to send (visible to other users in `ps`: prefer the environment or --oidc-agent). "
            "[env: EXECPLANNER_OIDC_TOKEN, OIDC_ACCESS_TOKEN]",
        ),
        click.option(
            "--oidc-agent",
            "oidc_agent",
            metavar="ACCOUNT",
            default=None,
            help="Get the token from oidc-agent (`oidc-token ACCOUNT`).",
        ),
        click.option(
            "--output",
            "-o",
            type=click.Choice(render.OUTPUTS),
            default="table",
            show_default=True,
            help="A table for people, or the service's documents as JSON or YAML.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _broker(url: str, token: str | None, oidc_agent: str | None) -> BrokerClient:
    return BrokerClient(url, token=tokens.resolve(token, oidc_agent))


@click.command()
@click.argument("source", metavar="PATH_OR_URL_OR_-")
@click.option("--cores", type=click.IntRange(min=1), default=None, help="At least this many cores.")
@click.option("--memory", default=None, help="At least this much memory: 8 (GiB), 8GiB, 512MiB.")
@click.option("--duration", default=None, help="For this long: PT2H, 2h, 90m (a bare number is hours).")
@click.option(
    "--start", default=None, help="Start at an ISO 8601 instant, or within an interval: 2026-06-01T09:00Z/PT4H."
)
@click.option("--vo", default=None, help="Ask as a member of this VO (the token's VO by default).")
@click.option(
    "--location",
    default=None,
    help="Where the service fetches the notebook, compose file or repository from (for a local file).",
)
@click.option("--accept-first", is_flag=True, help="Accept the best offer at once.")
@click.option("--json", "as_json", is_flag=True, hidden=True, help="Same as --output json.")
@service_options
def ask(
    source: str,
    cores: int | None,
    memory: str | None,
    duration: str | None,
    start: str | None,
    vo: str | None,
    location: str | None,
    accept_first: bool,
    as_json: bool,
    url: str,
    token: str | None,
    oidc_agent: str | None,
    output: str,
) -> None:
    """Ask the service where and when it can run SOURCE, and list its offers.

    SOURCE is an offer-set request (JSON, YAML or XML), or the executable itself — a notebook, compose file,
    Snakefile, Dockerfile, repository directory or git URL — turned into a request as `describe --request`
    does; `-` reads standard input. Exits 3 when the answer is NO."""
    output = "json" if as_json else output
    broker = _broker(url, token, oidc_agent)
    request = outgoing(source, Overrides(cores, memory, duration, start, vo), location)
    offerset = broker.ask(request.body, request.content_type)
    render.offerset(offerset, output)
    if offerset.result != "YES":
        why = f": {offerset.messages[0]}" if offerset.messages and output != "table" else ""
        raise AnsweredNo(f"the answer is {offerset.result}{why}")
    if accept_first and offerset.offers:
        accepted = broker.accept(offerset.offers[0].uuid)
        if output == "table":
            click.echo("accepted:")
        render.session(accepted, output)


@click.group()
def sessions() -> None:
    """List, show, follow, accept, reject or cancel sessions."""


@sessions.command("list")
@click.option(
    "--phase",
    "phases",
    multiple=True,
    metavar="PHASE",
    help="Only sessions in this phase (repeat for several): OFFERED, ACCEPTED, AVAILABLE, …",
)
@click.option("--site", default=None, help="Only sessions placed on this site.")
@click.option("--vo", default=None, help="Only sessions of this VO.")
@click.option("--since", default=None, help="Only sessions created at or after this ISO 8601 instant.")
@click.option("--until", default=None, help="Only sessions created before this ISO 8601 instant.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many (one page).")
@click.option("--watch", is_flag=True, help="Keep listing: print each session that appears or changes phase.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    help="With --watch: seconds between looks.",
)
@service_options
def list_sessions(
    phases: tuple[str, ...],
    site: str | None,
    vo: str | None,
    since: str | None,
    until: str | None,
    limit: int | None,
    watch: bool,
    interval: float,
    url: str,
    token: str | None,
    oidc_agent: str | None,
    output: str,
) -> None:
    """Your sessions (an operator's token: everyone's), newest first."""
    broker = _broker(url, token, oidc_agent)
    filters: dict[str, Any] = {"phase": phases, "site": site, "vo": vo, "since": since, "until": until}
    if limit is not None:
        page = broker.sessions(limit=limit, **filters)
        found, document = page.items, page.document
    else:
        found = list(broker.iter_sessions(**filters))
        document = {"sessions": [s.document for s in found], "cursor": None}
    if output != "table":
        click.echo(render.document(document, output))
    elif found or not watch:
        click.echo(render.sessions_table(found))
    if watch:
        _watch_list(broker, filters, {s.uuid: s.phase for s in found}, interval, output)


def _watch_list(
    broker: BrokerClient, filters: dict[str, Any], known: dict[str, str], interval: float, output: str
) -> None:
    """Print each session that appears or changes phase, until interrupted."""
    while True:
        time.sleep(interval)
        for session in broker.iter_sessions(**filters):
            if known.get(session.uuid) != session.phase:
                _changed(session, known.get(session.uuid), output)
                known[session.uuid] = session.phase


def _changed(session: SessionView, before: str | None, output: str) -> None:
    if output != "table":
        click.echo(
            render.document(session.document, output)
            if output == "yaml"
            else render.document(session.document, "json").replace("\n", " ")
        )
        return
    stamp = datetime.now(UTC).strftime("%H:%M:%SZ")
    move = f"{before} -> {session.phase}" if before else f"new {session.phase}"
    click.echo(f"{stamp}  {session.uuid}  {move}  {session.site or '-'}")


@sessions.command("show")
@click.argument("uuid")
@click.option(
    "--watch",
    is_flag=True,
    help="Follow its phase changes until it can be reached (then print its access URL) or ends.",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    help="With --watch: seconds between looks.",
)
@service_options
def show(
    uuid: str, watch: bool, interval: float, url: str, token: str | None, oidc_agent: str | None, output: str
) -> None:
    """One session (or offer): where, when, its phase, and how to reach it."""
    broker = _broker(url, token, oidc_agent)
    session = broker.session(uuid)
    render.session(session, output)
    if watch:
        _follow(broker, session, interval, output)


def _follow(broker: BrokerClient, session: SessionView, interval: float, output: str) -> None:
    """Until AVAILABLE (exit 0 with its access URL), COMPLETED (0), or another final phase (3)."""
    while not (session.is_reachable or session.is_final):
        time.sleep(interval)
        fresh = broker.session(session.uuid)
        if fresh.phase != session.phase:
            _changed(fresh, session.phase, output)
        session = fresh
    if session.is_reachable and output == "table":
        for url in session.access_urls or ["(the service gives no access URL for it)"]:
            click.echo(f"access: {url}")
    if session.is_final and session.phase != "COMPLETED":
        why = next((m for m in reversed(session.messages)), "")
        raise AnsweredNo(f"session {session.uuid} ended {session.phase}" + (f": {why}" if why else ""))


def _phase_command(name: str, phase: str) -> None:
    @sessions.command(name, help=f"Set a session's phase to {phase}.")
    @click.argument("uuid")
    @service_options
    def command(uuid: str, url: str, token: str | None, oidc_agent: str | None, output: str) -> None:
        render.session(_broker(url, token, oidc_agent).update(uuid, phase), output)


for _name, _phase in (("accept", "ACCEPTED"), ("reject", "REJECTED"), ("cancel", "CANCELLED")):
    _phase_command(_name, _phase)
