"""HTTP: the pages, the JSON API and the Socket.IO browser client (security headers: security.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response

from videochat.model.access import MOST_MEMBERS
from videochat.model.errors import ENTRY_REFUSALS, PASSWORD_REFUSALS
from videochat.model.passwords import LONGEST_PASSWORD
from videochat.model.reactions import REACTIONS
from videochat.model.validation import Limits
from videochat.web import i18n

PACKAGE_DIR = Path(__file__).parent
STATIC_DIR = PACKAGE_DIR / "static"
VENDOR_DIR = STATIC_DIR / "vendor"
TEMPLATES_DIR = PACKAGE_DIR / "templates"
LANGUAGE_COOKIE = "videochat_lang"

# What the set-up copies from npm's socket.io-client into static/vendor/, and the URLs the Node
# server answers for it (seed clients load /socket.io/socket.io.js).
SOCKET_IO_CLIENT_FILES = {
    "/socket.io/socket.io.js": "socket.io.js",
    "/socket.io/socket.io.js.map": "socket.io.js.map",
    "/socket.io/socket.io.min.js": "socket.io.min.js",
    "/socket.io/socket.io.esm.min.js": "socket.io.esm.min.js",
}


@dataclass(frozen=True)
class PageConfig:
    """What the server tells its pages instead of their copying it: the limits of its settings and
    the error codes the page acts on (model/errors.py). Every page embeds it as JSON
    (templates/base.html, `page-config`; static/js/config.js reads it)."""

    limits: Limits
    max_call_size: int
    upload_budget_kbps: int
    max_upload_bytes: int = 0  # the largest file in the chat (0: files are off)
    last_n: int = 0  # on the SFU, the most others whose camera video a page receives (0: everyone's)
    recording: bool = False  # calls can be recorded (there is an SFU)

    def as_json(self) -> dict[str, object]:
        return {
            "limits": {
                "room": self.limits.max_room_name,
                "nickname": self.limits.max_nickname,
                "message": self.limits.max_message,
                "password": LONGEST_PASSWORD,
                "members": MOST_MEMBERS,
                "callSize": self.max_call_size,
                "uploadBudgetKbps": self.upload_budget_kbps,
                "fileBytes": self.max_upload_bytes,
                "lastN": self.last_n,
            },
            "errors": {"password": sorted(PASSWORD_REFUSALS), "entry": sorted(ENTRY_REFUSALS)},
            "reactions": list(REACTIONS),
            "recording": self.recording,
        }


class Pages:
    def __init__(self, public_rooms: Callable[[], list[dict[str, object]]], config: PageConfig) -> None:
        self.public_rooms = public_rooms
        self.config = config.as_json()
        self.templates = Environment(
            loader=FileSystemLoader(TEMPLATES_DIR),
            autoescape=select_autoescape(("html",)),
            auto_reload=False,
        )

    def _render(self, request: Request, template: str, config: dict[str, object], **context: object) -> Response:
        query_lang = request.query_params.get("lang")
        lang = i18n.choose_language(
            query_lang, request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language")
        )
        strings = i18n.STRINGS[lang]
        html = self.templates.get_template(template).render(
            request=request,
            lang=lang,
            t=_translator(strings),
            strings=strings,
            config=config,
            limits=config["limits"],
            **context,
        )
        response = HTMLResponse(html)
        if query_lang in i18n.LANGUAGES:
            response.set_cookie(LANGUAGE_COOKIE, query_lang, max_age=365 * 24 * 3600, samesite="lax")
        return response

    async def home(self, request: Request) -> Response:
        return self._render(request, "home.html", self.config, page="home")

    async def room(self, request: Request) -> Response:
        room = request.path_params["room"]
        longest = self.config["limits"]["room"]  # type: ignore[index]
        if len(room) > ROOM_PATH_SLACK * longest:
            # no page that repeats a name it could never enter (the page embeds it four times)
            return PlainTextResponse(f"No such room: room names have at most {longest} characters.\n", status_code=404)
        return self._render(request, "room.html", {**self.config, "room": room}, page="room", room=room)

    async def api_rooms(self, request: Request) -> Response:
        return JSONResponse({"rooms": self.public_rooms()})


# a room's page is served for names up to this many times --max-room-name (white space around a
# name, or letters NFC joins, make a longer path name a valid room); the server refuses the rest
ROOM_PATH_SLACK = 4


def _translator(strings: dict[str, str]) -> Callable[..., str]:
    def t(key: str, **values: object) -> str:
        text = strings.get(key, key)
        return text.format(**values) if values else text

    return t


async def socket_io_client(request: Request) -> Response:
    name = SOCKET_IO_CLIENT_FILES[request.url.path]
    path = VENDOR_DIR / name
    if not path.is_file():
        return PlainTextResponse("The Socket.IO client is not installed; run the set-up (README).", status_code=503)
    return FileResponse(path, media_type="application/javascript" if name.endswith(".js") else "application/json")
