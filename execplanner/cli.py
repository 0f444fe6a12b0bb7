"""The `execplanner` command. Subcommands live beside the package they drive and are imported on demand,
so `execplanner --help` stays fast and importing one never drags in another's dependencies.

Errors end here: every `ExecPlannerError` a subcommand lets through becomes one line on stderr and the exit code
its class declares (`exit_code`; the table is in docs/configuration.md) — never a traceback.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from execplanner import __version__
from execplanner.errors import ExecPlannerError

# name -> "module:attribute" of a click command or group
SUBCOMMANDS: dict[str, str] = {
    "serve": "execplanner.api.command:serve",
    "healthcheck": "execplanner.api.command:healthcheck",
    "sim": "execplanner.simcloud.command:sim",
    "catalogue": "execplanner.catalogue.command:catalogue",
    "describe": "execplanner.executables.command:describe",
    "ask": "execplanner.client.command:ask",
    "sessions": "execplanner.client.command:sessions",
}


def _simulated_cloud(settings: Any) -> Any:
    """`execplanner.simcloud.serving.simulated_cloud`, imported when `serve --cloud sim` calls it: the simulator
    (uvicorn app, federation, faults) is not loaded by every `serve` (about a tenth of its start-up)."""
    return importlib.import_module("execplanner.simcloud.serving").simulated_cloud(settings)


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when invoked (or listed)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(SUBCOMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in SUBCOMMANDS:
            module_name, attribute = SUBCOMMANDS[cmd_name].split(":")
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name and exc.name.startswith("execplanner"):
                    return None  # not built yet
                raise
            if cmd_name == "serve":  # the simulated cloud of `serve --cloud sim`, wired here, never in the API layer
                setattr(module, "simulated_cloud", _simulated_cloud)  # noqa: B010 — a module attribute, set from here
            return getattr(module, attribute)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ExecPlannerError as exc:
            click.echo("Error: " + (" ".join(exc.message.split()) or type(exc).__name__), err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="execplanner")
def main() -> None:
    """execplanner: IVOA ExecutionBroker / ExecutionPlanner service for the EGI Federated Cloud."""


if __name__ == "__main__":  # pragma: no cover
    main()
