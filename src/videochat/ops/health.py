"""GET /healthz (the process answers) and GET /readyz (what it depends on answers).

Readiness runs every registered check; each is an async callable that raises when its service is
unreachable. The app registers "storage" (the SQLite history); code that adds a service registers
its own, e.g. `app.health.add_check("redis", redis_ping)`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

log = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 2.0

Check = Callable[[], Awaitable[object]]


class Health:
    def __init__(self) -> None:
        self.checks: dict[str, Check] = {}

    def add_check(self, name: str, check: Check) -> None:
        self.checks[name] = check

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})

    async def readyz(self, request: Request) -> Response:
        results = await asyncio.gather(*(self._run(name, check) for name, check in self.checks.items()))
        failed = {name: reason for name, reason in results if reason is not None}
        body = {
            "status": "unavailable" if failed else "ready",
            "checks": {name: ("failed" if name in failed else "ok") for name in self.checks},
        }
        if failed:
            body["reasons"] = failed
        return JSONResponse(body, status_code=503 if failed else 200, headers={"Cache-Control": "no-store"})

    async def _run(self, name: str, check: Check) -> tuple[str, str | None]:
        try:
            await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
        except TimeoutError:
            reason = f"no answer within {CHECK_TIMEOUT_SECONDS:g} s"
        except Exception as error:  # a failing service, whatever its library raises
            reason = str(error) or error.__class__.__name__
        else:
            return name, None
        log.warning("not ready", extra={"check": name, "reason": reason})
        return name, reason
