"""`execplanner describe PATH`: what the service would make of an executable, printed as JSON or YAML."""

from __future__ import annotations

import json

import click
import yaml

from execplanner.errors import InvalidExecutable


@click.command()
@click.argument("path")
@click.option("--yaml", "as_yaml", is_flag=True, help="Print YAML instead of JSON.")
@click.option("--ref", default=None, help="Branch or tag, when PATH is a git repository URL.")
@click.option("--kind", default=None, help="Executable kind (or type URI) to read a single file as.")
@click.option(
    "--request",
    "as_request",
    is_flag=True,
    help="Print an offer-set request for it (POST it to /offersets) instead of the requirements.",
)
@click.option(
    "--dialect",
    type=click.Choice(["2025", "2026"]),
    default="2026",
    show_default=True,
    help="With --request: the protocol dialect to write.",
)
@click.option(
    "--location",
    default=None,
    help="With --request: the URL the service fetches the notebook, compose file or repository from.",
)
def describe(
    path: str, as_yaml: bool, ref: str | None, kind: str | None, as_request: bool, dialect: str, location: str | None
) -> None:
    """Describe the requirements of a notebook, compose file, Snakemake workflow, CWL tool, codemeta.json,
    Dockerfile, repository directory or git URL; with --request, write the offer-set request that asks for them."""
    from pathlib import Path

    from execplanner.executables import describe_bytes, describe_path

    try:
        if kind is not None and Path(path).is_file():
            record = describe_bytes(Path(path).read_bytes(), Path(path).name, kind)
        else:
            record = describe_path(path, ref=ref)
    except InvalidExecutable as exc:
        raise click.ClickException(exc.message) from exc
    document = record.model_dump(mode="json")
    if as_request:
        from execplanner.executables.protocol import request_for
        from execplanner.formats.encode import request_tree
        from execplanner.model.documents import Dialect

        if location is None and "://" in path:
            location = path
        document = request_tree(request_for(record, location=location, dialect=Dialect(dialect)))
    if as_yaml:
        click.echo(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), nl=False)
    else:
        click.echo(json.dumps(document, indent=2))
