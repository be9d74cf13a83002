"""The Janus instances videochat may place calls on: connected, watched, reconnected.

`--janus auto` runs one local Janus (local.py); `--janus URL[,URL...]` uses instances run elsewhere,
with the secret from VIDEOCHAT_JANUS_SECRET or --janus-secret-file (their `api_secret`, and the
VideoRoom's `admin_key`). Each instance keeps one API session with a control handle (rooms are
created and destroyed through it). A call goes to the healthy instance with the fewest calls. The
local Janus's traffic is read through its admin API (traffic.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit

from videochat.sfu.janus import Handle, Janus, JanusError
from videochat.sfu.local import LocalJanus
from videochat.sfu.traffic import TrafficWatch

log = logging.getLogger(__name__)

T = TypeVar("T")
RECONNECT_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)


@dataclass(eq=False)
class Instance:
    name: str  # what logs, /metrics and /readyz call it: "local", or host:port of a remote URL
    url: Callable[[], str]
    secret: Callable[[], str | None]
    admin_key: Callable[[], str | None]
    local: LocalJanus | None = None
    janus: Janus | None = None
    control: Handle | None = None
    healthy: bool = False
    reason: str = "not connected yet"
    calls: int = 0
    publishers: int = 0
    subscribers: int = 0
    up: asyncio.Event = field(default_factory=asyncio.Event)
    # its admin API (url, secret), for traffic.py: known for a Janus videochat runs
    admin: Callable[[], tuple[str, str] | None] = lambda: None
    received_bps: int = 0  # bits/s from publishers and to subscribers, this server's streams
    forwarded_bps: int = 0


def instance_name(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def _constant(value: T) -> Callable[[], T]:
    return lambda: value


class Instances:
    def __init__(self, instances: list[Instance]) -> None:
        self.all = instances
        self.on_down: Callable[[Instance], Awaitable[None]] | None = None
        self._tasks: list[asyncio.Task] = []
        self._changed = asyncio.Event()

    @classmethod
    def remote(cls, urls: list[str], secret: str | None) -> Instances:
        return cls(
            [
                Instance(instance_name(url), url=_constant(url), secret=_constant(secret), admin_key=_constant(secret))
                for url in urls
            ]
        )

    @classmethod
    def of_local(cls, local: LocalJanus) -> Instances:
        return cls(
            [
                Instance(
                    "local",
                    url=lambda: local.url,
                    secret=lambda: local.api_secret,
                    admin_key=lambda: local.admin_key,
                    local=local,
                    admin=lambda: (local.admin_url, local.admin_secret) if local.admin_url else None,
                )
            ]
        )

    async def start(self) -> None:
        for instance in self.all:
            if instance.local is not None:
                try:
                    await instance.local.start()
                except Exception as error:
                    instance.reason = f"Janus did not start: {error}"
                    log.error("the local Janus did not start (%s); calls stay peer to peer", error)
                    instance.local = None
                    continue
            self._tasks.append(asyncio.create_task(self._keep_connected(instance), name=f"janus-{instance.name}"))
            if instance.local is not None:
                watch = TrafficWatch(instance)
                self._tasks.append(asyncio.create_task(watch.run(), name=f"janus-{instance.name}-traffic"))
        # the first connection is worth a short wait, so that the first call finds the SFU
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wait_healthy(), 3.0)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for instance in self.all:
            if instance.janus is not None:
                await instance.janus.close()
            if instance.local is not None:
                await instance.local.stop()

    def pick(self) -> Instance | None:
        """The healthy instance with the fewest calls (then publishers), or None."""
        healthy = [i for i in self.all if i.healthy]
        return min(healthy, key=lambda i: (i.calls, i.publishers + i.subscribers), default=None)

    def named(self, name: str) -> Instance | None:
        return next((i for i in self.all if i.name == name), None)

    def available(self) -> bool:
        return any(i.healthy for i in self.all)

    async def wait_healthy(self) -> Instance:
        while True:
            chosen = self.pick()
            if chosen is not None:
                return chosen
            self._changed.clear()
            await self._changed.wait()

    def snapshot(self) -> list[dict]:
        return [
            {
                "name": i.name,
                "healthy": i.healthy,
                "calls": i.calls,
                "publishers": i.publishers,
                "subscribers": i.subscribers,
                "received_bps": i.received_bps,
                "forwarded_bps": i.forwarded_bps,
                **({} if i.healthy else {"reason": i.reason}),
            }
            for i in self.all
        ]

    async def check(self) -> None:
        """/readyz: fails only when every instance is down (calls still work peer to peer)."""
        if self.all and not self.available():
            reasons = "; ".join(f"{i.name}: {i.reason}" for i in self.all)
            raise RuntimeError(f"no Janus instance is up ({reasons})")

    async def _keep_connected(self, instance: Instance) -> None:
        failures = 0
        while True:
            janus = Janus(instance.url(), instance.secret())
            try:
                await janus.connect()
                instance.control = await janus.attach()
            except (OSError, JanusError, TimeoutError, Exception) as error:
                await janus.close()
                reason = error.reason if isinstance(error, JanusError) else f"{error.__class__.__name__}: {error}"
                if failures == 0 or instance.reason != reason:
                    log.warning("Janus %s unreachable: %s", instance.name, reason)
                instance.reason = reason
                await asyncio.sleep(RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)])
                failures += 1
                continue
            failures = 0
            instance.janus, instance.healthy, instance.reason = janus, True, ""
            instance.up.set()
            self._changed.set()
            log.info("Janus %s connected", instance.name)
            await janus.closed.wait()
            instance.healthy, instance.reason, instance.control = False, "connection lost", None
            instance.up.clear()
            instance.calls = instance.publishers = instance.subscribers = 0
            log.warning("Janus %s lost; its calls move", instance.name)
            if self.on_down is not None:
                # in its own task: moving calls waits for a healthy instance, maybe this one again
                asyncio.create_task(self._run_on_down(instance), name=f"janus-{instance.name}-down")
            await janus.close()

    async def _run_on_down(self, instance: Instance) -> None:
        assert self.on_down is not None
        try:
            await self.on_down(instance)
        except Exception:
            log.exception("moving the calls of Janus %s failed", instance.name)
