"""Every setting, once: the flag `--x-y`, the environment variable `VIDEOCHAT_X_Y`, and its entry in
docs/config.md (tests/test_docs.py fails when one of them is missing)."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from videochat.model.ratelimit import Rate

ENV_PREFIX = "VIDEOCHAT_"
LOG_LEVELS = ("debug", "info", "warning", "error")
ICE_TRANSPORT_POLICIES = ("all", "relay")
LOG_FORMATS = ("human", "json")
FAST_PATH = ("on", "off")


class SettingsError(ValueError):
    """A setting has a value that cannot work; the message says which and why."""


def _meta(
    help: str,
    *,
    flag: bool = False,
    choices: tuple[str, ...] | None = None,
    secret: bool = False,
    env_only: bool = False,
) -> dict[str, Any]:
    # secret: never logged, and a warning when given on the command line (visible to every user of
    # the machine in `ps`); env_only: a secret read from the environment only, never a flag.
    return {"help": help, "flag": flag, "choices": choices, "secret": secret, "env_only": env_only}


@dataclass(frozen=True)
class Settings:
    host: str = field(
        default="127.0.0.1",
        metadata=_meta("Address to listen on. The default serves this machine only; use 0.0.0.0 for the LAN."),
    )
    port: int = field(
        default=3000, metadata=_meta("TCP port to listen on; 0 picks any free port (the address is printed at start).")
    )
    data_dir: Path = field(
        default=Path("data"),
        metadata=_meta("Folder for the SQLite database and the self-signed certificate; created if missing."),
    )
    log_level: str = field(default="info", metadata=_meta("Least severe log level written.", choices=LOG_LEVELS))
    reload: bool = field(
        default=False, metadata=_meta("Restart the server when its code changes (for development).", flag=True)
    )
    tls_cert: Path | None = field(default=None, metadata=_meta("PEM certificate file: serve HTTPS (needs --tls-key)."))
    tls_key: Path | None = field(default=None, metadata=_meta("PEM private key file for --tls-cert."))
    self_signed: bool = field(
        default=False,
        metadata=_meta(
            "Serve HTTPS with a self-signed certificate created once in the data folder and reused, "
            "so that phones on the LAN may use camera and microphone.",
            flag=True,
        ),
    )
    max_room_name: int = field(default=64, metadata=_meta("Longest room name, in characters."))
    max_nickname: int = field(default=32, metadata=_meta("Longest nickname, in characters."))
    max_message: int = field(default=2000, metadata=_meta("Longest chat message, in characters."))
    history_size: int = field(default=100, metadata=_meta("How many recent messages of a room a newcomer receives."))
    history_retention: float = field(
        default=3600.0, metadata=_meta("Seconds a room may stay empty before its history is deleted.")
    )

    # video calls (docs/deploy.md): ICE servers, TURN credentials, call size, bandwidth
    stun_urls: str = field(
        default="", metadata=_meta("Comma-separated STUN URLs (stun:host:port) given to browsers; none by default.")
    )
    turn_urls: str = field(
        default="",
        metadata=_meta("Comma-separated TURN URLs (turn:host:port?transport=udp, turns:...) given to browsers."),
    )
    turn_secret: str | None = field(
        default=None,
        repr=False,
        metadata=_meta(
            "Shared secret of coturn's use-auth-secret: the server issues short-lived TURN credentials. "
            "Give it by the environment variable or --turn-secret-file, not on a command line.",
            secret=True,
        ),
    )
    turn_secret_file: Path | None = field(
        default=None, metadata=_meta("A file holding the TURN shared secret (instead of --turn-secret).")
    )
    turn_ttl: int = field(
        default=600,
        metadata=_meta("Seconds a TURN credential stays valid; pages in a call renew theirs before it expires."),
    )
    ice_transport_policy: str = field(
        default="all",
        metadata=_meta(
            "ICE transport policy for calls: all, or relay (only through TURN).", choices=ICE_TRANSPORT_POLICIES
        ),
    )
    max_call_size: int = field(
        default=6,
        metadata=_meta(
            "Most participants with video in one room's call; the next one is refused (and may still chat)."
        ),
    )
    upload_budget_kbps: int = field(
        default=2500, metadata=_meta("Upload budget of each browser in a call, in kbit/s, shared among its peers.")
    )
    # the SFU (docs/sfu.md): Janus, run by videochat or elsewhere
    janus: str = field(
        default="auto",
        metadata=_meta(
            "The SFU for group calls: auto (videochat runs a local Janus, if the janus program is "
            "installed), off (calls stay peer to peer), or comma-separated ws:// URLs of Janus "
            "instances run elsewhere (their secret in VIDEOCHAT_JANUS_SECRET or --janus-secret-file)."
        ),
    )
    janus_secret: str | None = field(
        default=None,
        repr=False,
        metadata=_meta(
            "Secret of the remote Janus instances of --janus: their api_secret and the VideoRoom's admin_key.",
            env_only=True,
        ),
    )
    janus_secret_file: Path | None = field(
        default=None, metadata=_meta("A file holding the secret of the remote Janus instances (first line).")
    )
    janus_rtp_ports: str = field(
        default="20000-20999",
        metadata=_meta("UDP ports (low-high) the local Janus uses for media, one per connection: open them."),
    )
    janus_public_ip: str | None = field(
        default=None,
        metadata=_meta("The public address of the local Janus behind a 1:1 NAT (a cloud host): put in its candidates."),
    )
    sfu_from: int = field(
        default=3,
        metadata=_meta("A call moves to the SFU when it reaches this many people; 0 keeps every call peer to peer."),
    )
    max_sfu_call_size: int = field(
        default=50, metadata=_meta("Most participants of a call on the SFU; the next one is refused (and may chat).")
    )
    last_n: int = field(
        default=9,
        metadata=_meta(
            "In a call on the SFU, each person receives the camera video of at most this many others: "
            "those they pinned, then the most recent speakers; the others show their name (their sound "
            "goes on). 0: everyone's."
        ),
    )
    # Operations: the admin UI, metrics, logs (docs/operations.md)
    admin_username: str = field(
        default="admin", metadata=_meta("User name the Socket.IO Admin UI at /admin/ logs in with.")
    )
    admin_password: str | None = field(
        default=None,
        repr=False,
        metadata=_meta(
            "Password of the admin UI; without one (or --admin-password-file) the admin UI is off.", env_only=True
        ),
    )
    admin_password_file: Path | None = field(
        default=None, metadata=_meta("File holding the admin UI password (its first line); turns the admin UI on.")
    )
    admin_read_only: bool = field(
        default=False,
        metadata=_meta("The admin UI only shows: no disconnecting, joining, leaving or emitting.", flag=True),
    )
    metrics_token: str | None = field(
        default=None,
        repr=False,
        metadata=_meta("Bearer token /metrics asks for; without one /metrics is open.", env_only=True),
    )
    metrics_token_file: Path | None = field(
        default=None, metadata=_meta("File holding the bearer token /metrics asks for (its first line).")
    )
    log_format: str = field(
        default="human",
        metadata=_meta(
            "How log lines are written: human (key=value) or json (one object per line).", choices=LOG_FORMATS
        ),
    )
    log_sensitive: bool = field(
        default=False,
        metadata=_meta(
            "Also log message text, SDP and ICE candidates (debugging only: it exposes what users say).", flag=True
        ),
    )
    # who may connect, and how much they may send (docs/security.md)
    allowed_origins: str = field(
        default="",
        metadata=_meta("Comma-separated origins (https://host[:port]) whose pages may connect besides the app's own."),
    )
    trusted_proxies: str = field(
        default="",
        metadata=_meta(
            "Comma-separated addresses or networks of reverse proxies whose X-Forwarded-For and "
            "X-Forwarded-Proto headers are believed; nobody's by default."
        ),
    )
    max_connections_per_ip: int = field(
        default=100,
        metadata=_meta("Most simultaneous connections (Socket.IO and plain WebSocket) from one address; 0 = no limit."),
    )
    max_packet_bytes: int = field(
        default=131072,
        metadata=_meta(
            "Largest Socket.IO packet or WebSocket message accepted, in bytes; a larger one closes that connection."
        ),
    )
    message_rate: float = field(
        default=5.0, metadata=_meta("Chat messages (and reactions) per second one connection may send, on average.")
    )
    message_burst: float = field(
        default=20.0, metadata=_meta("Chat messages one connection may send at once before the rate applies.")
    )
    join_rate: float = field(default=2.0, metadata=_meta("Room joins per second per connection."))
    join_burst: float = field(default=10.0, metadata=_meta("Room joins at once per connection."))
    nickname_rate: float = field(default=1.0, metadata=_meta("Nickname changes per second per connection."))
    nickname_burst: float = field(default=5.0, metadata=_meta("Nickname changes at once per connection."))
    signal_rate: float = field(
        default=100.0,
        metadata=_meta(
            "Call signaling messages (offer, answer, ICE candidates, media state) per second per connection."
        ),
    )
    signal_burst: float = field(default=500.0, metadata=_meta("Call signaling messages at once per connection."))
    request_rate: float = field(
        default=20.0, metadata=_meta("Other requests (room lists, leaving, unknown events) per second per connection.")
    )
    request_burst: float = field(default=100.0, metadata=_meta("Other requests at once per connection."))
    ip_rate_factor: float = field(
        default=10.0,
        metadata=_meta("An address may send this many times what one connection may (people behind one NAT)."),
    )
    max_sdp_bytes: int = field(
        default=65536, metadata=_meta("Longest session description (SDP) a call offer or answer may carry, in bytes.")
    )
    max_candidate_bytes: int = field(
        default=2048, metadata=_meta("Longest ICE candidate line a call may relay, in bytes.")
    )
    ban_seconds: float = field(
        default=600.0, metadata=_meta("Seconds a member removed by a room's owner may not come back to that room.")
    )
    wrong_password_delay: float = field(
        default=1.0, metadata=_meta("Seconds a wrong room password waits before it is answered (slows guessing).")
    )
    # several processes as one (docs/deploy.md) and the room list's cost
    redis: str | None = field(
        default=None,
        metadata=_meta(
            "Redis URL (redis://host:port/db, rediss:// for TLS) shared by several videochat processes, "
            "which then act as one: rooms, members, calls and history live in Redis. Without it: one "
            "process, in memory and SQLite. A URL with a password belongs in the environment variable."
        ),
    )
    room_list_rate: float = field(
        default=4.0,
        metadata=_meta(
            "Most room_change lists per second a client receives: faster changes are merged into the "
            "next list (a change is sent at once while changes are rare)."
        ),
    )
    redis_heartbeat: float = field(
        default=2.0,
        metadata=_meta(
            "Seconds between a process's heartbeats in Redis; a process silent for 5 heartbeats is "
            "taken for dead and its members are removed from rooms."
        ),
    )
    # the signaling fast path (docs/internals.md)
    fast_path: str = field(
        default="on",
        metadata=_meta(
            "on: serve Socket.IO through videochat's fast path, which reaches into the internals of "
            "python-socketio, python-engineio, uvicorn and websockets (checked at start); off: through "
            "those libraries' stock code (slower; for an upgrade the start-up check refuses).",
            choices=FAST_PATH,
        ),
    )
    max_outgoing_bytes: int = field(
        default=1048576,
        metadata=_meta(
            "Most bytes that may wait for one client to read them (WebSocket, or long-polling between two "
            "GETs); a client further behind is disconnected (it stopped reading), so a slow reader cannot "
            "make the server's memory grow."
        ),
    )
    # against hostile clients (docs/security.md): each group validated by its own method
    # connections and transports
    allowed_hosts: str = field(
        default="",
        metadata=_meta(
            "Comma-separated host names the server answers to besides IP addresses, localhost and this "
            "machine's own names (*.example.com for any name below example.com; * for every name, which "
            "turns the check off). A request for another name is refused: a web site a user visits could "
            "point its name at this server's address (DNS rebinding). A public host lists its domain."
        ),
    )
    max_tcp_connections_per_ip: int = field(
        default=200,
        metadata=_meta(
            "Most simultaneous TCP connections of any kind (page loads, long-polling, WebSockets) from one "
            "address (IPv6: one /64); the next is answered 503 and closed. Trusted proxies are exempt. "
            "0 = no limit."
        ),
    )
    request_timeout: float = field(
        default=20.0,
        metadata=_meta(
            "Seconds a client has to send a whole HTTP request (headers and body), from the moment its "
            "connection opens or the request starts; a slower one is closed."
        ),
    )
    handshake_timeout: float = field(
        default=20.0,
        metadata=_meta(
            "Seconds an Engine.IO session (WebSocket or long-polling) may stay open without a Socket.IO "
            "namespace connected; then it is closed."
        ),
    )

    # rooms, owners and passwords
    max_rooms_per_connection: int = field(
        default=10,
        metadata=_meta("Most rooms one connection may be in at once; entering one more is refused (too_many_rooms)."),
    )
    max_rooms_per_ip: int = field(
        default=100,
        metadata=_meta(
            "Most room memberships the connections from one address may hold together (each process "
            "counts its own connections); 0 = no limit."
        ),
    )
    room_list_size: int = field(
        default=50,
        metadata=_meta(
            "Most rooms a room list holds (room_change, list_rooms, /api/rooms, the home page): the "
            "busiest public rooms, busiest first."
        ),
    )
    password_attempts_per_room: float = field(
        default=30.0,
        metadata=_meta(
            "Room password attempts one room takes within --password-attempt-window, from everyone "
            "together; more are refused (too_many_attempts) before any is checked."
        ),
    )
    password_attempts_per_ip: float = field(
        default=10.0,
        metadata=_meta(
            "Room password attempts one address may make within --password-attempt-window, at all rooms together."
        ),
    )
    password_attempt_window: float = field(
        default=60.0,
        metadata=_meta(
            "Seconds in which the password attempts of a room, and of an address, are given back "
            "(token buckets: one attempt back every window/attempts seconds)."
        ),
    )

    # chat history on disk (or in Redis), all rooms together
    history_max_mb: float = field(
        default=100.0,
        metadata=_meta(
            "Most chat history kept in total, all rooms together, in MiB (the database, or Redis's lists): "
            "over it, the history of the rooms empty longest goes first, then the oldest messages of the "
            "largest rooms."
        ),
    )

    # files in the chat (docs/protocol.md, "Files")
    max_upload_mb: float = field(
        default=25.0,
        metadata=_meta("Largest file a member may put into a room's chat, in MiB; 0 turns files off."),
    )
    uploads_max_gb: float = field(
        default=5.0,
        metadata=_meta(
            "Most disk the chat's files take together, in GiB: over it, uploads are refused until files "
            "leave the rooms' history (a file lives as long as its message is in the history)."
        ),
    )
    uploads_dir: Path | None = field(
        default=None,
        metadata=_meta(
            "Folder of the chat's files (default: uploads in the data folder). With --redis, one folder "
            "every process reads and writes (docs/deploy.md)."
        ),
    )

    recordings_dir: Path | None = field(
        default=None,
        metadata=_meta(
            "Folder of the calls' recordings (default: recordings in the data folder); Janus writes "
            "there, so a Janus run elsewhere needs it shared (docs/recording.md)."
        ),
    )
    recordings_retention: float = field(
        default=30.0,
        metadata=_meta(
            "Days a recording is kept once its file is made; then it is deleted. 0 keeps them until deleted."
        ),
    )
    recordings_max_gb: float = field(
        default=20.0,
        metadata=_meta(
            "Most disk the recordings take together, in GiB: a recording under way when it is reached stops "
            "(what was recorded is kept and made into its file), and none starts until there is room again."
        ),
    )

    # the admin namespace
    admin_login_failures: int = field(
        default=10,
        metadata=_meta(
            "Failed admin UI logins one address may make before it must wait; then one more every "
            "--admin-login-interval seconds. A braked address is refused without the password being checked."
        ),
    )
    admin_login_interval: float = field(
        default=60.0,
        metadata=_meta("Seconds after which an address regains one failed admin login (see --admin-login-failures)."),
    )

    def validate(self) -> Settings:
        if not 0 <= self.port <= 65535:
            raise SettingsError(f"port must be between 0 and 65535, got {self.port}")
        if self.log_level not in LOG_LEVELS:
            raise SettingsError(f"log-level must be one of {', '.join(LOG_LEVELS)}, got {self.log_level!r}")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise SettingsError("tls-cert and tls-key go together: give both or neither")
        if self.tls_cert is not None and self.self_signed:
            raise SettingsError("choose either self-signed or tls-cert/tls-key, not both")
        for path in (self.tls_cert, self.tls_key):
            if path is not None and not path.is_file():
                raise SettingsError(f"TLS file not found: {path}")
        for name in ("max_room_name", "max_nickname", "max_message", "history_size"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{option_name(name)} must be at least 1, got {getattr(self, name)}")
        if self.history_retention <= 0:
            raise SettingsError(f"history-retention must be more than 0 seconds, got {self.history_retention}")
        for name in (
            "message_rate",
            "message_burst",
            "join_rate",
            "join_burst",
            "nickname_rate",
            "nickname_burst",
            "signal_rate",
            "signal_burst",
            "request_rate",
            "request_burst",
            "ip_rate_factor",
        ):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{option_name(name)} must be more than 0, got {getattr(self, name)}")
        if self.room_list_rate <= 0:
            raise SettingsError(f"room-list-rate must be more than 0, got {self.room_list_rate}")
        self._validate_redis()
        if self.ban_seconds < 0 or self.wrong_password_delay < 0:
            raise SettingsError("ban-seconds and wrong-password-delay must be 0 or more")
        if self.max_connections_per_ip < 0:
            raise SettingsError(
                f"max-connections-per-ip must be 0 (no limit) or more, got {self.max_connections_per_ip}"
            )
        if self.max_sdp_bytes < 1024 or self.max_candidate_bytes < 256:
            raise SettingsError("max-sdp-bytes must be at least 1024 and max-candidate-bytes at least 256")
        if self.max_sdp_bytes + 4096 > self.max_packet_bytes:
            raise SettingsError(
                "max-sdp-bytes must leave room in max-packet-bytes (4096 bytes at least) for the rest of the packet"
            )
        if self.max_packet_bytes < 1024:
            raise SettingsError(f"max-packet-bytes must be at least 1024, got {self.max_packet_bytes}")
        for origin in split_list(self.allowed_origins):
            if not re.fullmatch(r"https?://[^/\s]+", origin):
                raise SettingsError(f"allowed-origins: {origin!r} is not an origin like https://chat.example.com")
        for proxy in split_list(self.trusted_proxies):
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise SettingsError(f"trusted-proxies: {proxy!r} is not an address or network") from None
        if self.log_format not in LOG_FORMATS:
            raise SettingsError(f"log-format must be one of {', '.join(LOG_FORMATS)}, got {self.log_format!r}")
        if self.fast_path.lower() not in FAST_PATH:
            raise SettingsError(f"fast-path must be one of {', '.join(FAST_PATH)}, got {self.fast_path!r}")
        if not self.admin_username.strip():
            raise SettingsError("admin-username must not be empty")
        self.admin_secret()  # a password file that cannot be read stops the server at once
        self.metrics_secret()
        self._validate_calls()
        self._validate_history()
        self._validate_connections()
        self._validate_admin()
        self._validate_rooms()

        if self.max_outgoing_bytes < 2 * self.max_packet_bytes:
            raise SettingsError(
                "max-outgoing-bytes must be at least twice max-packet-bytes, got "
                f"{self.max_outgoing_bytes} (max-packet-bytes {self.max_packet_bytes})"
            )
        return self

    def _validate_connections(self) -> None:
        for pattern in split_list(self.allowed_hosts):
            if pattern != "*" and not re.fullmatch(r"(\*\.)?[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?", pattern):
                raise SettingsError(
                    f"allowed-hosts: {pattern!r} is not a host name like chat.example.com "
                    "or *.example.com (no scheme, no port, no path)"
                )
        if self.max_tcp_connections_per_ip < 0:
            raise SettingsError(
                f"max-tcp-connections-per-ip must be 0 (no limit) or more, got {self.max_tcp_connections_per_ip}"
            )
        for name in ("request_timeout", "handshake_timeout"):
            if not 0 < getattr(self, name) <= 3600:
                raise SettingsError(
                    f"{option_name(name)} must be more than 0 and at most 3600 seconds, got {getattr(self, name)}"
                )

    def _validate_admin(self) -> None:
        if self.admin_login_failures < 1:
            raise SettingsError(f"admin-login-failures must be at least 1, got {self.admin_login_failures}")
        if not 0 < self.admin_login_interval <= 86400:
            raise SettingsError(
                f"admin-login-interval must be more than 0 and at most 86400 seconds, got {self.admin_login_interval}"
            )

    def _validate_rooms(self) -> None:
        from videochat.model.rooms import largest_list_bytes

        if self.max_rooms_per_connection < 1 or self.room_list_size < 1:
            raise SettingsError("max-rooms-per-connection and room-list-size must be at least 1")
        if min(self.password_attempts_per_room, self.password_attempts_per_ip) < 1 or self.password_attempt_window <= 0:
            raise SettingsError(
                "password-attempts-per-room and -per-ip must be at least 1, password-attempt-window more than 0 seconds"
            )
        if self.max_rooms_per_ip < 0:
            raise SettingsError(f"max-rooms-per-ip must be 0 (no limit) or more, got {self.max_rooms_per_ip}")
        # every connection receives the list, several times a second while rooms change: the largest
        # one must leave the client's outgoing buffer room for everything else
        largest = largest_list_bytes(self.room_list_size, self.max_room_name)
        if largest * 8 > self.max_outgoing_bytes:
            raise SettingsError(
                f"room-list-size {self.room_list_size} with max-room-name {self.max_room_name} makes room "
                f"lists of up to {largest} bytes, more than an eighth of max-outgoing-bytes "
                f"({self.max_outgoing_bytes}): lower one of the first two or raise the last"
            )

    def _validate_redis(self) -> None:
        if self.redis is None:
            return

        parts = urlsplit(self.redis)
        if parts.scheme not in ("redis", "rediss", "unix") or not (parts.hostname or parts.path):
            raise SettingsError(
                f"redis: expected redis://host:port/db, rediss://... or unix:///path, got {redact_url(self.redis)!r}"
            )
        if not 0.2 <= self.redis_heartbeat <= 10:
            raise SettingsError(f"redis-heartbeat must be between 0.2 and 10 seconds, got {self.redis_heartbeat}")

    def _validate_calls(self) -> None:
        self._validate_sfu()
        if self.last_n < 0:
            raise SettingsError(f"last-n must be 0 (everyone's video) or more, got {self.last_n}")
        for url in self.stun_url_list:
            if not url.startswith(("stun:", "stuns:")):
                raise SettingsError(f"stun-urls: expected stun: or stuns: URLs, got {url!r}")
        for url in self.turn_url_list:
            if not url.startswith(("turn:", "turns:")):
                raise SettingsError(f"turn-urls: expected turn: or turns: URLs, got {url!r}")
        if self.turn_secret is not None and self.turn_secret_file is not None:
            raise SettingsError("choose either turn-secret or turn-secret-file, not both")
        if self.turn_secret_file is not None and not self.turn_secret_file.is_file():
            raise SettingsError(f"TURN secret file not found: {self.turn_secret_file}")
        if self.turn_secret is not None and not self.turn_secret.strip():
            raise SettingsError("turn-secret is empty")
        if self.ice_transport_policy not in ICE_TRANSPORT_POLICIES:
            raise SettingsError(f"ice-transport-policy must be all or relay, got {self.ice_transport_policy!r}")
        if self.ice_transport_policy == "relay" and not self.turn_url_list:
            raise SettingsError("ice-transport-policy relay needs TURN servers: give --turn-urls")
        for name in ("turn_ttl", "max_call_size", "upload_budget_kbps"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{option_name(name)} must be at least 1, got {getattr(self, name)}")

    def _validate_sfu(self) -> None:
        if self.janus not in ("auto", "off"):
            for url in split_list(self.janus):
                if urlsplit(url).scheme not in ("ws", "wss") or not urlsplit(url).hostname:
                    raise SettingsError(f"janus: expected auto, off or ws://host:port URLs, got {url!r}")
            if not split_list(self.janus):
                raise SettingsError("janus: expected auto, off or ws://host:port URLs, got nothing")
        match = re.fullmatch(r"(\d+)-(\d+)", self.janus_rtp_ports)
        if not match or not 1024 <= int(match[1]) < int(match[2]) <= 65535:
            raise SettingsError(f"janus-rtp-ports must be low-high within 1024-65535, got {self.janus_rtp_ports!r}")
        if self.janus_public_ip is not None:
            try:
                ipaddress.ip_address(self.janus_public_ip)
            except ValueError:
                raise SettingsError(f"janus-public-ip must be an IP address, got {self.janus_public_ip!r}") from None
        if self.sfu_from < 0 or self.sfu_from == 1:
            raise SettingsError(f"sfu-from must be 0 (never) or 2 or more, got {self.sfu_from}")
        if self.max_sfu_call_size < 2:
            raise SettingsError(f"max-sfu-call-size must be at least 2, got {self.max_sfu_call_size}")

    @property
    def janus_rtp_range(self) -> tuple[int, int]:
        low, high = self.janus_rtp_ports.split("-")
        return int(low), int(high)

    @property
    def janus_urls(self) -> list[str]:
        return [] if self.janus in ("auto", "off") else split_list(self.janus)

    def janus_remote_secret(self) -> str | None:
        return _secret(self.janus_secret, self.janus_secret_file, "janus-secret")

    def _validate_history(self) -> None:
        """The bounds on all history together, on the chat's files and on recordings (docs/security.md)."""
        if not 0 <= self.recordings_retention <= 36500:
            raise SettingsError(f"recordings-retention must be 0 (keep) to 36500 days, got {self.recordings_retention}")
        if not 0 < self.recordings_max_gb <= 1024**2:
            raise SettingsError(f"recordings-max-gb must be more than 0, got {self.recordings_max_gb}")
        if not self.history_max_mb > 0:
            raise SettingsError(f"history-max-mb must be more than 0, got {self.history_max_mb}")
        if not 0 <= self.max_upload_mb <= 4096:
            raise SettingsError(f"max-upload-mb must be between 0 (no files) and 4096, got {self.max_upload_mb}")
        if not self.max_upload_mb <= self.uploads_max_gb * 1024 <= 1024**3:
            raise SettingsError(
                f"uploads-max-gb must hold one file of --max-upload-mb at least, got {self.uploads_max_gb}"
            )

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def uploads_max_bytes(self) -> int:
        return int(self.uploads_max_gb * 1024 * 1024 * 1024)

    @property
    def recordings_max_bytes(self) -> int:
        return int(self.recordings_max_gb * 1024**3)

    @property
    def recordings_path(self) -> Path:
        return self.recordings_dir if self.recordings_dir is not None else self.data_dir / "recordings"

    @property
    def uploads_path(self) -> Path:
        return self.uploads_dir if self.uploads_dir is not None else self.data_dir / "uploads"

    @property
    def history_max_bytes(self) -> int:
        return int(self.history_max_mb * 1024 * 1024)

    @property
    def fast(self) -> bool:
        """Whether the fast path serves Socket.IO (--fast-path on)."""
        return self.fast_path.lower() == "on"

    @property
    def stun_url_list(self) -> list[str]:
        return split_list(self.stun_urls)

    @property
    def turn_url_list(self) -> list[str]:
        return split_list(self.turn_urls)

    def admin_secret(self) -> str | None:
        """The admin UI password (from VIDEOCHAT_ADMIN_PASSWORD or --admin-password-file), or None."""
        return _secret(self.admin_password, self.admin_password_file, "admin-password")

    def metrics_secret(self) -> str | None:
        """The bearer token /metrics asks for, or None when /metrics is open."""
        return _secret(self.metrics_token, self.metrics_token_file, "metrics-token")

    def rates(self) -> dict[str, Rate]:
        """The token-bucket rate of each kind of client event (ratelimit.KINDS)."""
        from videochat.model.ratelimit import Rate

        names = {"message": "message", "join": "join", "nickname": "nickname", "signal": "signal", "other": "request"}
        return {
            kind: Rate(getattr(self, f"{name}_rate"), getattr(self, f"{name}_burst")) for kind, name in names.items()
        }

    @property
    def database_path(self) -> Path:
        return self.data_dir / "videochat.sqlite3"

    @property
    def scheme(self) -> str:
        return "https" if (self.tls_cert or self.self_signed) else "http"

    def to_env(self) -> dict[str, str]:
        """The settings as environment variables (how a reloading child process receives them)."""
        env = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, bool):
                value = "1" if value else "0"
            env[env_name(f.name)] = str(value)
        return env

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(env_name(f.name))
            if raw is not None:
                values[f.name] = parse_value(f, raw)
        return cls(**values).validate()


def _secret(value: str | None, path: Path | None, name: str) -> str | None:
    if value is not None and path is not None:
        raise SettingsError(f"give either {env_name(name.replace('-', '_'))} or --{name}-file, not both")
    if path is not None:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise SettingsError(f"{name}-file {path} cannot be read: {error.__class__.__name__}") from None
        value = lines[0] if lines else ""
    if value is None:
        return None
    if not value.strip():
        raise SettingsError(f"{name} is empty; give a real one or none at all")
    return value


def env_only_values(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The settings that only the environment may give (secrets), as Settings(**values) takes them."""
    environ = os.environ if environ is None else environ
    return {
        f.name: parse_value(f, environ[env_name(f.name)])
        for f in setting_fields()
        if f.metadata.get("env_only") and env_name(f.name) in environ
    }


def redact_url(url: str) -> str:
    """A URL fit for logs: any password replaced by ***."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + netloc))


def split_list(value: str) -> list[str]:
    """A comma-separated setting as a list, blanks dropped."""
    return [item.strip() for item in value.split(",") if item.strip()]


def env_name(name: str) -> str:
    return ENV_PREFIX + name.upper()


def option_name(name: str) -> str:
    return name.replace("_", "-")


def setting_fields() -> tuple[dataclasses.Field, ...]:
    return dataclasses.fields(Settings)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def parse_value(f: dataclasses.Field, raw: str) -> Any:
    kind = value_type(f)
    where = f"{env_name(f.name)}={raw!r}"
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise SettingsError(f"{where}: expected one of 1/0, true/false, yes/no, on/off")
    try:
        return kind(raw)
    except ValueError:
        raise SettingsError(f"{where}: expected {kind.__name__}") from None


def value_type(f: dataclasses.Field) -> type:
    annotation = str(f.type)
    for name, kind in (("bool", bool), ("int", int), ("float", float), ("Path", Path)):
        if annotation.startswith(name):
            return kind
    return str
