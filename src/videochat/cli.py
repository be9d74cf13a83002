"""The `videochat` command. `videochat` alone (or `python -m videochat`) means `videochat serve`."""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from . import __version__
from .logs import configure_logging
from .settings import (Settings, SettingsError, env_name, env_only_values, option_name, setting_fields,
                       value_type)

log = logging.getLogger("videochat")


class DefaultGroup(click.Group):
    """A group that runs `serve` when no command is named (`videochat --port 8000`)."""

    default_command = "serve"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h", "--version")):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="videochat")
def cli() -> None:
    """videochat: a self-hosted video chat server."""


def _setting_options(fn: Any) -> Any:
    for f in reversed(setting_fields()):
        meta = f.metadata
        if meta.get("env_only"):
            continue  # secrets: environment only (see _SECRETS_HELP)
        kind = value_type(f)
        names = [f"--{option_name(f.name)}"]
        kwargs: dict[str, Any] = {
            "envvar": env_name(f.name),
            "show_envvar": True,
            "help": meta["help"],
            "default": f.default,
            "show_default": f.default not in (None, False),
        }
        if meta["flag"]:
            kwargs.update(is_flag=True)
        elif meta["choices"]:
            kwargs.update(type=click.Choice(meta["choices"], case_sensitive=False))
        elif kind is Path:
            kwargs.update(type=click.Path(path_type=Path))
        else:
            kwargs.update(type=kind)
        fn = click.option(*names, f.name, **kwargs)(fn)
    return fn


_SECRETS_HELP = "Secrets come from the environment only (or from the matching --...-file option): " + "; ".join(
    f"{env_name(f.name)}: {f.metadata['help']}" for f in setting_fields() if f.metadata.get("env_only"))


@cli.command(epilog=_SECRETS_HELP)
@_setting_options
def serve(**values: Any) -> None:
    """Serve the app (pages, Socket.IO, the plain WebSocket lobby)."""
    try:
        settings = Settings(**values, **env_only_values()).validate()
    except SettingsError as error:
        raise click.UsageError(str(error)) from None
    configure_logging(settings.log_level, settings.log_format, sensitive=settings.log_sensitive)
    from .server import run  # imported late: `videochat --help` stays fast

    sys.exit(run(settings))


def main() -> None:
    cli(prog_name="videochat")


if __name__ == "__main__":  # pragma: no cover
    main()
