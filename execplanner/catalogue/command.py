"""`execplanner catalogue …`: build, show, list sites for a VO, validate, diff, print the schema."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from execplanner.catalogue import default_catalogue_path
from execplanner.catalogue.build import (
    DEFAULT_SITE_TIMEOUT,
    DEFAULT_WORKERS,
    BuildObserver,
    build_catalogue,
    failures,
)
from execplanner.catalogue.model import Catalogue, SiteStatus
from execplanner.errors import CatalogueError

_PATH = click.Path(path_type=Path)
_PIPE_WIDTH = 240
EXIT_SITES_FAILED = 3  # `catalogue build`: a site or VO could not be read, nothing written (see --allow-partial)
_EXISTING = click.Path(exists=True, dir_okay=False, path_type=Path)


def _fail(exc: CatalogueError) -> None:
    click.echo(f"error: {exc.message}", err=True)
    for detail in exc.details[1:]:
        click.echo(f"  {detail}", err=True)
    sys.exit(2)


def _load(path: Path) -> Catalogue:
    try:
        return Catalogue.load(path)
    except CatalogueError as exc:
        _fail(exc)
        raise  # unreachable


@click.group()
def catalogue() -> None:
    """The resource catalogue of EGI FedCloud sites: build it, look at it, check it."""


# ---------------------------------------------------------------------------------------------------- build


def _observer(console: Console) -> tuple[BuildObserver, object]:
    from contextlib import nullcontext

    from execplanner.catalogue.progress import PlainProgress, RichProgress

    if console.is_terminal:
        progress = RichProgress(console)
        return progress, progress
    return PlainProgress(sys.stderr), nullcontext()


@catalogue.command()
@click.option("--vo", "vos", multiple=True, help="VO to discover (repeatable); with --sim, default all.")
@click.option("--site", "sites", multiple=True, help="Only this site (repeatable).")
@click.option("--sites-dir", type=_PATH, help="EGI site-config directory (default ~/.config/fedcloud/site-config).")
@click.option("--token", help="OIDC access token (prefer --token-file or EXECPLANNER_OIDC_TOKEN).")
@click.option("--token-file", type=_EXISTING, help="File holding the OIDC access token.")
@click.option("--sim", "sim_url", metavar="URL", help="Build from a running simcloud simulator instead.")
@click.option("-o", "--output", type=_PATH, help="Write here (.yaml/.yml/.json); default YAML on stdout.")
@click.option("--timeout", type=float, default=DEFAULT_SITE_TIMEOUT, show_default=True, help="Seconds per site.")
@click.option("--workers", type=int, default=DEFAULT_WORKERS, show_default=True, help="Sites queried at once.")
@click.option(
    "--allow-partial",
    is_flag=True,
    help=f"Write the catalogue and exit 0 although some sites or VOs failed (else exit {EXIT_SITES_FAILED}).",
)
def build(
    vos: tuple[str, ...],
    sites: tuple[str, ...],
    sites_dir: Path | None,
    token: str | None,
    token_file: Path | None,
    sim_url: str | None,
    output: Path | None,
    timeout: float,
    workers: int,
    allow_partial: bool,
) -> None:
    """Discover flavors, images, networks and quotas of every site supporting the VOs, in parallel.

    When a site or VO fails, prints one line for each (which and why) and exits 3 without writing anything,
    unless --allow-partial.
    """
    from execplanner.catalogue.siteconfig import default_sites_dir
    from execplanner.catalogue.sources import EGI_SOURCE, resolve_token, sim_targets, targets_from_sites_dir

    console = Console(stderr=True)
    try:
        if sim_url:
            targets, credentials, source = sim_targets(sim_url, vos, sites)
        else:
            if not vos:
                raise CatalogueError("give at least one --vo")
            credentials = resolve_token(token, token_file)
            config_dir = sites_dir or default_sites_dir()
            targets, config = targets_from_sites_dir(config_dir, vos, sites)
            for skipped in config.skipped:
                console.print(f"[yellow]WARN[/] skipped {skipped.path}: {skipped.reason}")
            source = EGI_SOURCE
        if not targets:
            raise CatalogueError(f"no site supports {', '.join(vos) or 'any VO'}")
    except CatalogueError as exc:
        _fail(exc)
        return
    observer, context = _observer(console)
    with context:  # type: ignore[attr-defined]
        result = build_catalogue(targets, credentials, source, site_timeout=timeout, workers=workers, observer=observer)
    _finish(result, output, allow_partial, console)


def _finish(result: Catalogue, output: Path | None, allow_partial: bool, console: Console) -> None:
    failed = failures(result)
    for line in failed:  # plain lines: never wrapped or styled, one per failure
        click.echo(f"failed: {line}", err=True)
    ok = sum(1 for s in result.sites if s.status is SiteStatus.OK)
    summary = f"{ok}/{len(result.sites)} site(s) ok"
    if failed and not allow_partial:
        click.echo(f"error: {summary}, {len(failed)} failure(s); nothing written (--allow-partial writes it)", err=True)
        sys.exit(EXIT_SITES_FAILED)
    _write_result(result, output)
    console.print(summary + (f"; written to {output}" if output else ""))


def _write_result(result: Catalogue, output: Path | None) -> None:
    from execplanner.catalogue._files import dump_catalogue

    if output is None:
        click.echo(dump_catalogue(result, "yaml"), nl=False)
        return
    try:
        result.save(output)
    except (CatalogueError, OSError) as exc:
        _fail(exc if isinstance(exc, CatalogueError) else CatalogueError(f"cannot write {output}: {exc}"))


# ---------------------------------------------------------------------------------------------------- query


@catalogue.command()
@click.argument("file", type=_EXISTING, required=False)
@click.option("--vo", help="Only this VO.")
@click.option("--site", help="Details (flavors, images, networks) of this site.")
def show(file: Path | None, vo: str | None, site: str | None) -> None:
    """Print a catalogue as readable tables (default: the bundled one)."""
    from execplanner.catalogue.render import print_catalogue

    loaded = _load(file or default_catalogue_path())
    if site is not None and loaded.site(site) is None:
        _fail(CatalogueError(f"no site {site!r} in the catalogue; sites: {', '.join(s.name for s in loaded.sites)}"))
    console = Console()
    if not console.is_terminal:  # piped: do not wrap names at 80 columns
        console = Console(width=_PIPE_WIDTH)
    print_catalogue(console, loaded, vo, site)


@catalogue.command()
@click.option("--vo", required=True, help="The VO.")
@click.option("--catalogue", "catalogue_file", type=_EXISTING, help="Catalogue file (default: the bundled one).")
@click.option("--sites-dir", type=_PATH, help="Read EGI site config through fedcloudclient instead.")
def sites(vo: str, catalogue_file: Path | None, sites_dir: Path | None) -> None:
    """List the sites that support a VO, one per line: name, status, Keystone endpoint."""
    if sites_dir is not None:
        from execplanner.catalogue.siteconfig import sites_supporting

        try:
            config = sites_supporting(sites_dir, vo)
        except CatalogueError as exc:
            _fail(exc)
            return
        for skipped in config.skipped:
            click.echo(f"WARN skipped {skipped.path}: {skipped.reason}", err=True)
        for entry in config.sites:
            click.echo(f"{entry.name}\t{entry.endpoint}\t{entry.vos[vo]}")
        return
    loaded = _load(catalogue_file or default_catalogue_path())
    for site, site_vo in loaded.sites_for_vo(vo, include_unavailable=True):
        status = site_vo.status if site.status is SiteStatus.OK else site.status
        click.echo(f"{site.name}\t{status.value}\t{site.endpoint}\t{site_vo.project_id}")


@catalogue.command()
@click.argument("file", type=_EXISTING)
def validate(file: Path) -> None:
    """Check a catalogue against the schema; print the offending field's JSON path when it fails."""
    from execplanner.catalogue._files import read_document
    from execplanner.catalogue.schema import check_document

    try:
        check_document(read_document(file), str(file))
        loaded = Catalogue.load(file)
    except CatalogueError as exc:
        _fail(exc)
        return
    click.echo(f"{file}: valid catalogue, schema {loaded.schema_version}, {len(loaded.sites)} site(s)")


@catalogue.command()
@click.argument("old", type=_EXISTING)
@click.argument("new", type=_EXISTING)
@click.option("--exit-code", is_flag=True, help="Exit 1 when the catalogues differ (like git diff).")
def diff(old: Path, new: Path, exit_code: bool) -> None:
    """What changed from OLD to NEW: sites, VOs, flavors, images, networks added (+), removed (-), changed (~)."""
    from execplanner.catalogue.diff import diff_catalogues

    changes = diff_catalogues(_load(old), _load(new))
    for change in changes:
        click.echo(str(change))
    if not changes:
        click.echo("no changes")
    if changes and exit_code:
        sys.exit(1)


@catalogue.command()
@click.option("-o", "--output", type=_PATH, help="Write here instead of stdout.")
def schema(output: Path | None) -> None:
    """Print the catalogue's JSON Schema (regenerates schemas/catalogue.schema.json)."""
    from execplanner.catalogue.schema import catalogue_json_schema_text

    text = catalogue_json_schema_text()
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
