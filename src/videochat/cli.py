"""The `videochat` command. `videochat` alone (or `python -m videochat`) means `videochat serve`."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

import click

from videochat import __version__
from videochat.fastpath.selfcheck import refusal
from videochat.ops.logs import configure_logging
from videochat.settings import (
    LOG_LEVELS,
    Settings,
    SettingsError,
    env_name,
    env_only_values,
    option_name,
    setting_fields,
    value_type,
)

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
    f"{env_name(f.name)}: {f.metadata['help']}" for f in setting_fields() if f.metadata.get("env_only")
)


@cli.command(epilog=_SECRETS_HELP)
@_setting_options
def serve(**values: Any) -> None:
    """Serve the app (pages, Socket.IO, the plain WebSocket lobby)."""
    try:
        settings = Settings(**values, **env_only_values()).validate()
    except SettingsError as error:
        raise click.UsageError(str(error)) from None
    configure_logging(settings.log_level, settings.log_format, sensitive=settings.log_sensitive)
    if click.get_current_context().get_parameter_source("turn_secret") == click.core.ParameterSource.COMMANDLINE:
        log.warning(
            "--turn-secret on the command line is visible to every user of this machine; "
            "use VIDEOCHAT_TURN_SECRET or --turn-secret-file"
        )
    redis_source = click.get_current_context().get_parameter_source("redis")
    if settings.redis and redis_source == click.core.ParameterSource.COMMANDLINE and "@" in settings.redis:
        log.warning(
            "--redis with a password on the command line is visible to every user of this machine; use VIDEOCHAT_REDIS"
        )
    # the library internals this path relies on are there (docs/internals.md), before any is used
    refused = refusal(fast_path=settings.fast)
    if refused is not None:
        log.error(refused)
        sys.exit(1)
    from videochat.server import run  # imported late: `videochat --help` stays fast

    sys.exit(run(settings))


@cli.command()
@click.argument("url")
@click.argument("room")
@click.option("--name", default="Python", show_default=True, help="Nickname in the room.")
@click.option(
    "--video",
    "video_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Send this media file (looped; its audio too, if it has any).",
)
@click.option("--pattern", is_flag=True, help="Send a generated test pattern and tone (the default).")
@click.option("--no-audio", is_flag=True, help="Send no audio.")
@click.option("--relay", is_flag=True, help="Connect only through TURN (ICE transport policy relay).")
@click.option("--insecure", is_flag=True, help="Accept the server's certificate unchecked (self-signed).")
@click.option(
    "--receive-audio-only",
    is_flag=True,
    help="On the SFU, receive the others' audio only (no video to decode: a light listener).",
)
@click.option(
    "--send-only",
    is_flag=True,
    help="On the SFU, receive nothing, only send (a load generator: the lightest participant).",
)
@click.option(
    "--no-sfu", is_flag=True, help="Speak only the classic (mesh) events, as the seed's client: the call stays a mesh."
)
@click.option("--log-level", type=click.Choice(LOG_LEVELS), default="info", show_default=True)
def peer(
    url: str,
    room: str,
    name: str,
    video_file: Path | None,
    pattern: bool,
    no_audio: bool,
    relay: bool,
    insecure: bool,
    receive_audio_only: bool,
    send_only: bool,
    no_sfu: bool,
    log_level: str,
) -> None:
    """Join ROOM's video call on the videochat server at URL as a Python peer (aiortc).

    Sends a test pattern (or --video FILE) to everyone in the call, receives their media, and logs
    what arrives every few seconds, until Ctrl-C.
    """
    if video_file is not None and pattern:
        raise click.UsageError("choose either --video FILE or --pattern")
    if send_only and receive_audio_only:
        raise click.UsageError("choose either --send-only or --receive-audio-only")
    configure_logging(log_level)
    try:
        from videochat.peer import run_peer  # aiortc loads only for this command
    except ImportError as error:
        raise click.ClickException(
            f"the peer needs the 'peer' extra (pip install 'videochat[peer]'): {error}"
        ) from error

    options = dict(
        name=name,
        video=video_file,
        send_audio=not no_audio,
        ssl_verify=not insecure,
        ice_transport_policy="relay" if relay else None,
        sfu=not no_sfu,
        receive_video=not (receive_audio_only or send_only),
        receive_audio=not send_only,
    )
    sys.exit(asyncio.run(run_peer(url, room, **options)))


def main() -> None:
    cli(prog_name="videochat")


if __name__ == "__main__":  # pragma: no cover
    main()
