"""Who a browser is to the server: an id the server issues and signs, and the address it comes from.

A room owner's removal must hold something the removed person cannot simply replace. Whatever a
client makes up itself (a random `browserId` in `auth`, a tab's `clientId`) it can make up again, so
the server issues the id: `<id>.<issued>.<mac>`, 128 random bits, the time of issue (milliseconds,
hex) and an HMAC-SHA256 of both under a server secret. The page keeps it in localStorage and sends it
back in `auth.browserId`; a missing, malformed or forged one counts as none, and the connection gets
a fresh id, issued now. A removal then holds the id *and* the address (an IPv6 address by its /64:
one household's or one phone's network), and from a banned address only ids issued before the ban
get in: people behind the same NAT who were known already are not locked out, while a new id does
not help the removed person (docs/security.md says what this still cannot hold).

The secret is 32 random bytes, in `<data-dir>/browser-id.key` (0600) or, with several processes, in
Redis so that each process accepts the others' ids. It is never logged.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import logging
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SECRET_FILE = "browser-id.key"
REDIS_KEY = "videochat:browser-id-secret"
IPV6_PREFIX = 64  # a household, an office or a phone gets a /64 (or more) of its own
_TOKEN = re.compile(r"([A-Za-z0-9_-]{22})\.([0-9a-f]{1,12})\.([A-Za-z0-9_-]{22})")
_CONTEXT = b"videochat browser id 1\n"  # this secret signs nothing else, but a MAC says what it is for
CLOCK_SLACK = 60.0  # seconds an id may seem to come from the future (clocks of several processes)


@dataclass(frozen=True)
class BrowserId:
    """A verified (or freshly issued) browser id: `key` is what a ban holds and how an owner is
    recognised; `issued` is Unix time in seconds; `token` is what the browser keeps."""

    id: str
    issued: float
    token: str

    @property
    def key(self) -> str:
        return f"browser:{self.id}"


class BrowserIds:
    def __init__(self, secret: bytes | None = None) -> None:
        # until open() loads the real one: a secret of this process alone
        self._secret = secret or secrets.token_bytes(32)

    # issuing and checking

    def recognise(self, auth: Any, now: float | None = None) -> BrowserId:
        """The browser id the connection's `auth.browserId` proves, else a new one issued now."""
        now = time.time() if now is None else now
        token = auth.get("browserId") if isinstance(auth, dict) else None
        known = self.verify(token, now) if isinstance(token, str) else None
        return known if known is not None else self.issue(now)

    def issue(self, now: float) -> BrowserId:
        return self._signed(_b64(secrets.token_bytes(16)), int(now * 1000))

    def verify(self, token: str, now: float) -> BrowserId | None:
        match = _TOKEN.fullmatch(token)
        if match is None:
            return None
        browser_id, issued_hex, mac = match.groups()
        issued_ms = int(issued_hex, 16)
        expected = self._signed(browser_id, issued_ms)
        if not hmac.compare_digest(expected.token.rsplit(".", 1)[1], mac):
            return None
        if issued_ms / 1000 > now + CLOCK_SLACK:  # signed, yet not issued by a sane clock
            return None
        return expected

    def token(self, key: str, issued: float) -> str:
        """The token of a browser id recognised earlier (its `key` and `issued`)."""
        return self._signed(key.removeprefix("browser:"), round(issued * 1000)).token

    def _signed(self, browser_id: str, issued_ms: int) -> BrowserId:
        body = f"{browser_id}.{issued_ms:x}"
        mac = hmac.new(self._secret, _CONTEXT + body.encode(), hashlib.sha256).digest()[:16]
        return BrowserId(browser_id, issued_ms / 1000, f"{body}.{_b64(mac)}")

    def mac(self, data: bytes) -> bytes:
        """HMAC-SHA256 of `data` under the same secret, for other tokens every process must check
        (upload tickets, model/files.py); `data` starts with what the token is, as _CONTEXT here."""
        return hmac.new(self._secret, data, hashlib.sha256).digest()

    # the secret

    def open_file(self, data_dir: Path) -> None:
        """Take the secret from `<data_dir>/browser-id.key`, creating it (0600) the first time."""
        self._secret = _secret_file(data_dir / SECRET_FILE)

    async def open_redis(self, redis: Any) -> bool:
        """Take the secret all processes share from Redis, the first process creating it. False when
        Redis does not answer: this process then signs with a secret of its own (its ids are new
        ids to the others) until `keep_trying_redis` gets the shared one."""
        try:
            await redis.set(REDIS_KEY, secrets.token_hex(32), nx=True)
            value = await redis.get(REDIS_KEY)
            self._secret = bytes.fromhex(value.decode() if isinstance(value, bytes) else value)
            return True
        except Exception as error:  # its class and message; never the secret
            log.warning(
                "could not read the browser id secret from Redis; ids issued meanwhile are known to this process only",
                extra={"reason": f"{error.__class__.__name__}: {error}"},
            )
            return False

    async def keep_trying_redis(self, redis: Any, interval: float = 2.0) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await redis.ping()
            except Exception:
                continue  # Redis is still away: say nothing more
            if await self.open_redis(redis):
                log.info("browser ids are now signed with the secret the processes share")
                return


def parse_address(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """A client's address as an IP address (an IPv4-mapped IPv6 one as IPv4); None if it is none."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def address_block(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """What stands for one client of an address, for bans and for counting (connections.py): an
    IPv4 address, or an IPv6 address's /64 (one subscriber has that many addresses)."""
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{ip}/{IPV6_PREFIX}", strict=False))
    return str(ip)


def address_key(address: str) -> str | None:
    """What a ban holds of an address (address_block); None if unknown."""
    ip = parse_address(address)
    return None if ip is None else f"address:{address_block(ip)}"


def _secret_file(path: Path) -> bytes:
    """Read the secret, or write a new one atomically (several processes may start at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_hex(32) + "\n")
        try:
            os.link(temporary, path)  # fails if another process was first: then its secret counts
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    if path.stat().st_mode & 0o077:
        log.warning("%s was readable by others; made it 0600", path)
        path.chmod(0o600)
    return bytes.fromhex(path.read_text(encoding="ascii").strip())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
