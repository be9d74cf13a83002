"""Attacks on the admin namespace (docs/security.md, "While a login is checked"): what a socket gets
while its login is checked, Engine.IO session ids in what admins see, sessions used from another
address, login guessing.

The server's own view is what counts: every test records the raw Socket.IO packets its clients
receive (`Capturing`), not what a client library chooses to pass on.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import socketio

from support import ADMIN_PASSWORD, Recorder, attacker_addresses, eventually, scrape, source_session

GOOD = {"username": "admin", "password": ADMIN_PASSWORD}
WRONG = {"username": "admin", "password": "not the password"}


class Capturing(socketio.AsyncClient):
    """python-socketio's client from a loopback address of its own, keeping every Socket.IO packet it
    receives as it came (before the library decides whether a handler sees it)."""

    def __init__(self, source: str | None = None, **options) -> None:
        self.session = source_session(source) if source else None
        if self.session is not None:
            options["http_session"] = self.session
        super().__init__(reconnection=False, request_timeout=5, **options)
        self.raw: list[str | bytes] = []
        self.refusal = None
        self.on("connect_error", self._refused, namespace="/admin")

    async def _refused(self, data=None) -> None:
        self.refusal = data

    async def _handle_eio_message(self, data) -> None:
        self.raw.append(data)
        await super()._handle_eio_message(data)

    async def login(self, url: str, auth: dict) -> bool:
        """Connect to /admin with `auth`; whether it was accepted (the refusal is in `refusal`)."""
        try:
            await self.connect(url, namespaces=["/admin"], auth=auth, transports=["websocket"], wait_timeout=10)
        except socketio.exceptions.ConnectionError:
            return False
        return True

    async def close(self) -> None:
        if self.connected:
            await self.disconnect()
        else:
            await self.shutdown()
        if self.session is not None:
            await self.session.close()


def admin_env(**settings: str) -> dict[str, str]:
    return {"VIDEOCHAT_ADMIN_PASSWORD": ADMIN_PASSWORD, **{f"VIDEOCHAT_{k.upper()}": v for k, v in settings.items()}}


@pytest.mark.parametrize("backend", ["single", "redis"], indirect=True)  # redis: two processes
async def test_a_login_being_checked_receives_nothing_of_the_admin_namespace(server_factory, room):
    # No brake here (a high limit by environment variable, which a server without it ignores): every
    # wrong login is hashed, so each attacker spends its ~50 ms in the namespace again and again,
    # from three addresses at once, while a locked room chats fast.
    server = server_factory(env=admin_env(admin_login_failures="100000", message_rate="500", message_burst="5000"))
    alice, bob = Recorder(server.url), Recorder(server.url)
    await alice.connect()
    await bob.connect()
    captured: list[Capturing] = []
    attacking = True

    async def attack(address: str) -> None:
        for _ in range(15):
            attacker = Capturing(address)
            captured.append(attacker)
            try:
                assert not await attacker.login(server.url, WRONG)
            finally:
                await attacker.close()

    async def chat() -> int:
        sent = 0
        while attacking and sent < 5000:
            reply = await alice.call("new_message", f"secret {sent}", room)
            assert reply["ok"], reply
            sent += 1
        return sent

    try:
        locked = {"payload": room, "password": "room password"}
        assert (await alice.call("enter_room", locked))["ok"]
        assert (await bob.call("enter_room", locked))["ok"]
        chatter = asyncio.create_task(chat())
        try:
            await asyncio.gather(*(attack(address) for address in attacker_addresses(3)))
        finally:
            attacking = False
            sent = await chatter
        # the pair saw every message, in order
        await bob.wait_for("new_message", lambda line, message: message["text"] == f"secret {sent - 1}")
        assert [m["text"] for _, m in bob.received("new_message")] == [f"secret {i}" for i in range(sent)]
        assert sent > 20, sent  # the chat really ran during the attack
        assert len(captured) == 45
        for attacker in captured:
            assert attacker.refusal == {"message": "invalid credentials"}, attacker.refusal
            # the refusal (CONNECT_ERROR of /admin) is all a login being checked ever receives
            others = [packet for packet in attacker.raw if not str(packet).startswith("4/admin,")]
            assert others == [], others[:3]
            assert not any("secret" in str(packet) for packet in attacker.raw)
        assert "Traceback" not in server.log
    finally:
        await alice.disconnect()
        await bob.disconnect()


async def test_admins_never_see_engine_io_session_ids_cookies_or_authorization(server_factory, room):
    server = server_factory(env=admin_env())
    admin = Capturing()
    assert await admin.login(server.url, GOOD)
    # a long-polling user from an address of its own, sending a cookie and a bearer token
    (user_address,) = attacker_addresses(1)
    user = Capturing(user_address)
    await user.connect(
        server.url,
        namespaces=["/"],
        transports=["polling"],
        wait_timeout=10,
        headers={"Cookie": "session=cookie-secret", "Authorization": "Bearer token-secret"},
    )
    try:
        eio_sid = user.eio.sid
        assert await user.call("enter_room", room, timeout=10)

        def listed() -> list[dict]:
            shown = []
            for packet in admin.raw:
                if str(packet).startswith("2/admin,"):
                    event, *args = json.loads(str(packet)[len("2/admin,") :])
                    if event in ("socket_connected", "all_sockets"):
                        shown += args[0] if event == "all_sockets" else [args[0]]
            return [s for s in shown if s["id"] == user.get_sid()]

        await eventually(listed, what="the user listed to the admin")
        await eventually(
            lambda: any(f'"room_joined","/","#{room}"' in str(packet) for packet in admin.raw),
            what="the admin told of the user's room",
        )
        for socket in listed():
            assert socket["clientId"] and socket["clientId"] != eio_sid
            assert socket["handshake"]["address"] == user_address
            assert "cookie" not in socket["handshake"]["headers"]
            assert "authorization" not in socket["handshake"]["headers"]
            assert "sid" not in socket["handshake"]["query"]
        everything = "".join(str(packet) for packet in admin.raw)
        assert eio_sid not in everything
        assert "cookie-secret" not in everything and "token-secret" not in everything
    finally:
        await user.close()
        await admin.close()


async def test_a_long_polling_session_answers_only_the_address_that_opened_it(server_factory, room):
    server = server_factory()
    user_address, thief_address = attacker_addresses(2)
    user = Recorder(server.url, transports=["polling"], source=user_address)
    listener = Recorder(server.url)
    await user.connect()
    await listener.connect()
    try:
        for client in (user, listener):
            assert (await client.call("enter_room", room))["ok"]
        eio_sid = user.sio.eio.sid
        session = f"{server.url}/socket.io/?EIO=4&transport=polling&sid={eio_sid}"
        async with httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(local_address=thief_address)) as thief:
            spoken = await thief.post(
                session,
                content=f'42["new_message","not from the user",{json.dumps(room)}]',
                headers={"Content-Type": "text/plain"},
            )
            heard = await thief.get(session, timeout=5)
        assert (spoken.status_code, heard.status_code) == (400, 400), (spoken.text, heard.text)
        # the user's own session goes on, and the thief's words reached nobody
        assert (await user.call("new_message", "from the user", room))["ok"]
        await listener.wait_for("new_message", lambda line, message: message["text"] == "from the user")
        assert [m["text"] for _, m in listener.received("new_message")] == ["from the user"]
        assert "Traceback" not in server.log
    finally:
        await user.disconnect()
        await listener.disconnect()


async def test_failed_admin_logins_are_braked_per_address(server_factory):
    server = server_factory(env=admin_env(admin_login_failures="3", admin_login_interval="5"))
    guesser, neighbour = attacker_addresses(2)

    async def login(address: str | None, auth: dict) -> tuple[bool, object]:
        client = Capturing(address)
        try:
            accepted = await client.login(server.url, auth)
            return accepted, client.refusal
        finally:
            await client.close()

    # three wrong guesses at once from one address: each is checked and refused as usual
    results = await asyncio.gather(*(login(guesser, WRONG) for _ in range(3)))
    assert results == [(False, {"message": "invalid credentials"})] * 3
    # then that address is refused at once, even with the right password, with a message saying why
    accepted, refusal = await login(guesser, GOOD)
    assert not accepted
    assert refusal["message"].startswith("too many failed logins from your address; try again in ")
    # other addresses are not braked by it
    assert await login(neighbour, WRONG) == (False, {"message": "invalid credentials"})
    assert (await login(None, GOOD))[0]
    # and a correct login costs nothing: the right password again and again never brakes
    for _ in range(4):
        assert (await login(neighbour, GOOD))[0]
    async with httpx.AsyncClient(base_url=server.url) as http:
        metrics = scrape((await http.get("/metrics")).text)
    assert metrics[("videochat_admin_logins_total", frozenset({("result", "braked")}))] == 1
    await server.wait_log("too many failures")
    assert "Traceback" not in server.log

    # the braked address regains a login after --admin-login-interval (5 s here)
    async def guesser_gets_in() -> bool:
        return (await login(guesser, GOOD))[0]

    await eventually(guesser_gets_in, timeout=15, what="a login from the braked address again")
