"""`execplanner sim`: serve the simulated federation in the foreground."""

from __future__ import annotations

from pathlib import Path

import click

from execplanner.errors import ExecPlannerError


@click.command("sim")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (keep it loopback).")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port.")
@click.option(
    "--sites",
    "sites_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Federation file (sites.yaml format); default: the bundled six-site federation.",
)
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON file to keep state in across restarts (loaded at start, saved on every change).",
)
def sim(host: str, port: int, sites_file: Path | None, state_file: Path | None) -> None:
    """Run a SIMULATED EGI Federated Cloud for tests and demos. It is not a cloud: no VM ever runs.

    Every site of the federation file gets Keystone (EGI OIDC federation, application credentials), Nova,
    Glance and Neutron look-alikes under /<SITE>/ on one port, which openstacksdk and fedcloudclient use
    unchanged. GET / lists the sites, their auth URLs and the demo access token; /_sim/faults injects faults.
    Stops cleanly on Ctrl-C / SIGTERM.
    """
    from execplanner.simcloud.server import SimFederation
    from execplanner.simcloud.spec import load_federation

    try:
        spec = load_federation(sites_file)
        sim_fed = SimFederation.create(host, port, spec, state_file=state_file, log_level="info")
    except (ExecPlannerError, OSError) as exc:
        raise click.ClickException(str(getattr(exc, "message", exc))) from exc
    click.echo(f"Simulated EGI federation (simulator, not a cloud) listening on {sim_fed.base_url}")
    for site in sim_fed.sites:
        click.echo(f"  {site.name:<16} {site.auth_url}")
    click.echo(f"Demo OIDC access token: {sim_fed.demo_token}", err=False)
    sim_fed.serve_forever()
    click.echo("Simulated federation stopped.")
