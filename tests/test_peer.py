"""The Python peer (videochat.peer) in real calls: through a real server and a real coturn.

aiortc never gathers loopback host candidates, so on a loopback-only machine these calls can only go
through TURN; the peers use relay-only ICE so that they take the same path on every machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import math
import signal
import sys
from array import array
from collections.abc import AsyncIterator
from pathlib import Path

import av
import pytest

from videochat.peer import Peer, PeerError


@pytest.fixture
async def peers(turn_videochat) -> AsyncIterator:
    """peers(room, name, **options) -> a started Peer on the TURN-enabled server; all stopped after."""
    started: list[Peer] = []

    async def start(room: str, name: str, *, url: str | None = None, **options) -> Peer:
        options.setdefault("ice_transport_policy", "relay")
        peer = Peer(url or turn_videochat.url, room, name=name, **options)
        started.append(peer)
        return await peer.start()

    yield start
    for peer in started:
        await peer.stop()


async def test_two_python_peers_send_each_other_video_and_audio(peers, room):
    alice = await peers(room, "Alice")
    bob = await peers(room, "Bob")
    bob_seen = await alice.wait_for_peer(nickname="Bob")
    alice_seen = await bob.wait_for_peer(nickname="Alice")
    assert (bob_seen.id, alice_seen.id) == (bob.id, alice.id)
    await alice.wait_for_connection(bob.id)
    first = await alice.wait_for_media(bob.id)
    again = await alice.wait_for_media(bob.id)
    assert again["video"] > first["video"] and again["audio"] > first["audio"]
    await bob.wait_for_media(alice.id)
    # the media went through coturn: the selected pair is relay on both ends
    assert _relayed(alice, bob.id)

    await bob.set_media(audio=False)
    await _until(lambda: alice.peers[bob.id].media == {"audio": False, "video": True, "screen": False})


async def test_glare_both_offer_at_the_same_moment_and_still_connect(peers, room):
    alice = await peers(room, "Alice")
    bob = await peers(room, "Bob")
    await alice.wait_for_connection(bob.id)
    await bob.wait_for_connection(alice.id)
    # one side starts a new connection (as a browser does when one stays failed): the other, still
    # connected, takes the new offer on a fresh connection too
    old_connection = bob.peers[alice.id].pc
    await alice.call(bob.id)
    await alice.wait_for_connection(bob.id)
    assert bob.peers[alice.id].pc is not old_connection
    await bob.wait_for_media(alice.id)
    # now both start a new connection to the other at once: the offers cross
    await asyncio.gather(alice.call(bob.id), bob.call(alice.id))
    assert alice.ignored_offers + bob.ignored_offers == 1  # the impolite one dropped the other's offer
    await alice.wait_for_connection(bob.id)
    await bob.wait_for_connection(alice.id)
    await alice.wait_for_media(bob.id)
    await bob.wait_for_media(alice.id)


async def test_a_peer_whose_socket_drops_is_back_in_the_call(peers, room, turn_videochat):
    async with SocketProxy(turn_videochat.port) as proxy:
        alice = await peers(room, "Alice")
        bob = await peers(room, "Bob", url=f"http://127.0.0.1:{proxy.port}")
        await alice.wait_for_media(bob.id)
        old_id = bob.id

        proxy.cut()  # the network between Bob and the server goes away for a while
        await alice.wait_for_departure(old_id)
        proxy.restore()

        back = await alice.wait_for_peer(nickname="Bob", timeout=30)
        assert back.id != old_id and back.id == bob.id
        await bob.wait_for_peer(alice.id)
        assert bob.joins == 2
        await alice.wait_for_media(back.id)
        await bob.wait_for_media(alice.id)


async def test_the_peer_command_sends_a_media_file(peers, room, turn_videochat, tmp_path):
    clip = write_clip(tmp_path / "clip.webm")
    command = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "videochat",
        "peer",
        turn_videochat.url,
        room,
        "--name",
        "Filer",
        "--video",
        str(clip),
        "--relay",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        watcher = await peers(room, "Watcher")
        filer = await watcher.wait_for_peer(nickname="Filer", timeout=30)
        assert filer.media == {"audio": True, "video": True, "screen": False}
        await watcher.wait_for_media(filer.id, timeout=40)
    finally:
        if command.returncode is None:
            command.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(command.communicate(), 20)
    assert command.returncode == 0, output.decode()
    assert "left the call" in output.decode()
    await watcher.wait_for_departure(filer.id)


def write_clip(path: Path, seconds: int = 1) -> Path:
    """A small VP8 + Opus WebM file: moving grey levels and a tone."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libvpx", rate=15)
        video.width, video.height, video.pix_fmt = 160, 120, "yuv420p"
        audio = out.add_stream("libopus", rate=48000, layout="mono")
        for index in range(15 * seconds):
            frame = av.VideoFrame(160, 120, "yuv420p")
            for number, plane in enumerate(frame.planes):
                plane.update(bytes([index * 16 % 256]) * plane.line_size * (120 if number == 0 else 60))
            frame.pts = index
            out.mux(video.encode(frame))
        tone = array("h", (int(3000 * math.sin(2 * math.pi * 400 * n / 48000)) for n in range(960))).tobytes()
        for index in range(50 * seconds):
            frame = av.AudioFrame(format="s16", layout="mono", samples=960)
            frame.planes[0].update(tone)
            frame.sample_rate, frame.pts, frame.time_base = 48000, index * 960, fractions.Fraction(1, 48000)
            out.mux(audio.encode(frame))
        out.mux(video.encode(None))
        out.mux(audio.encode(None))
    return path


async def test_a_peer_refused_by_a_full_call_says_why(server_factory, room):
    server = server_factory("--max-call-size", "1")
    async with Peer(server.url, room, name="First") as first:
        late = Peer(server.url, room, name="Late")
        with pytest.raises(PeerError, match="call_full"):
            await late.start()
        assert first.peers == {} and not late.sio.connected


class SocketProxy:
    """A TCP proxy to the server whose connections can be cut (and new ones refused) and restored.

    It stands in for the network, which is outside the product: the peer and the server are real.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.open = True
        self._connections: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> SocketProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        self.cut()
        await self._server.wait_closed()

    def cut(self) -> None:
        self.open = False
        for writer in list(self._connections):
            writer.transport.abort()
        self._connections.clear()

    def restore(self) -> None:
        self.open = True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.open:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._connections.update((writer, up_writer))

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


def _relayed(peer: Peer, peer_id: str) -> bool:
    """Whether the connection to `peer_id` uses relay candidates on both ends (aiortc internals:
    read only, to check where the media went)."""
    pc = peer.peers[peer_id].pc
    assert pc is not None
    for transceiver in pc.getTransceivers():
        connection = transceiver.receiver.transport.transport._connection
        pair = connection._nominated.get(1)
        if pair is None or pair.local_candidate.type != "relay":
            return False
    return True


async def _until(condition, timeout: float = 10) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)  # polling a condition with a deadline
