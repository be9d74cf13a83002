"""A Python call participant: joins a room's call through the same Socket.IO protocol as the browser,
sends audio and video (a file, or a generated test pattern) and receives everyone else's.

    async with Peer("http://127.0.0.1:3000", "lobby", name="Robot") as peer:
        remote = await peer.wait_for_peer(nickname="Jisoo")
        await peer.wait_for_media(remote.id)          # frames really arrive, audio and video
        print(peer.frames_received(remote.id))        # {"audio": 412, "video": 131}

Built on aiortc (WebRTC) and python-socketio's AsyncClient; the first piece of a Python SDK. It
follows docs/protocol.md ("Video calls"): existing participants offer to a newcomer; perfect
negotiation with the lower id polite. aiortc cannot roll back a local offer, so the polite side
of a glare drops its half-made connection and answers on a fresh one (nothing was connected yet).
aiortc does not trickle: its SDP carries all its candidates, so it never sends `ice`; the
browser's trickled candidates are added as they come.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import socketio
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaPlayer, MediaRelay
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import candidate_from_sdp

from videochat.peer.patterns import PatternVideoTrack, ToneAudioTrack
from videochat.peer.sfu import SfuSession

log = logging.getLogger(__name__)

KINDS = ("audio", "video")
SFU_FRAMES_BEFORE_CLOSING_MESH = 5
MAX_RETRIES = 2  # fresh connections tried after one to a peer failed, before giving up on it


class PeerError(RuntimeError):
    """The server refused something (its error code and message), or a wait ran out."""


@dataclass
class RemotePeer:
    """Another participant of the call, as this peer sees it."""

    id: str
    nickname: str
    media: dict[str, bool] = field(default_factory=dict)
    pc: RTCPeerConnection | None = None
    frames: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    tracks: dict[str, MediaStreamTrack] = field(default_factory=dict)
    failures: int = 0  # connections to this peer that failed since the last one that connected
    sfu_frames: int = 0  # frames received from this peer through the SFU
    making_offer: bool = False
    ignore_offer: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @property
    def connection_state(self) -> str:
        return self.pc.connectionState if self.pc is not None else "new"


class Peer:
    """One participant of one room's call. `await start()` joins; `await stop()` leaves.

    Media: `video` is a file path or URL for aiortc's MediaPlayer (looped; its audio too, if any);
    without it a generated pattern and tone are sent (`send_video` / `send_audio` turn them off).
    ICE: the server's `iceServers` and `iceTransportPolicy` from the join ack, unless given here.
    """

    def __init__(
        self,
        url: str,
        room: str,
        *,
        name: str = "Python",
        video: str | Path | None = None,
        send_audio: bool = True,
        send_video: bool = True,
        ice_servers: list[dict[str, Any]] | None = None,
        ice_transport_policy: str | None = None,
        client_id: str | None = None,
        ssl_verify: bool = True,
        reconnection: bool = True,
        sfu: bool = True,
        receive_video: bool = True,
        receive_audio: bool = True,
    ) -> None:
        self.url = url
        self.room = room
        self.name = name
        self.video_source = str(video) if video is not None else None
        self.send_audio = send_audio
        self.send_video = send_video
        self.ice_servers_override = ice_servers
        self.ice_transport_policy_override = ice_transport_policy
        self.client_id = client_id or uuid.uuid4().hex
        self.peers: dict[str, RemotePeer] = {}
        self.sfu = sfu  # say that we speak the SFU events: the call may move to the SFU
        self.receive_video = receive_video  # on the SFU, False receives audio only (no video to decode)
        self.receive_audio = receive_audio  # on the SFU, False with receive_video=False: a sender only
        self.mode = "mesh"  # the call's mode, as the server says: "mesh" or "sfu"
        self.sfu_moves = 0  # how many times the call (re)started on the SFU
        self._sfu: SfuSession | None = None
        self.ice_servers: list[dict[str, Any]] = []
        self.ice_transport_policy = "all"
        self._ice_renew_at: float | None = None  # loop time after which new connections want fresh TURN credentials
        self.joins = 0  # how many times the call was (re)joined
        self.ignored_offers = 0  # glares this peer won as the impolite side
        self.id: str | None = None
        self._client_options = dict(
            reconnection=reconnection, reconnection_delay=0.5, reconnection_delay_max=2, ssl_verify=ssl_verify
        )
        self.sio = socketio.AsyncClient(**self._client_options)
        self._http: aiohttp.ClientSession | None = None
        self._player: MediaPlayer | None = None
        self._relay = MediaRelay()
        self._tasks: set[asyncio.Task] = set()
        self._changed = asyncio.Event()
        self._joined = asyncio.Event()
        self._join_error: PeerError | None = None
        self._stopping = False

    # lifecycle

    async def start(self, timeout: float = 20) -> Peer:
        """Connect and join the call; returns once the server acknowledged the join."""
        if self.video_source is not None:
            self._player = MediaPlayer(self.video_source, loop=True)
        # our own HTTP session, closed in stop(): the client's own may outlive failed reconnections
        self._http = aiohttp.ClientSession()
        self.sio = socketio.AsyncClient(http_session=self._http, **self._client_options)
        for event, handler in (
            ("connect", self._on_connect),
            ("welcome", self._on_welcome),
            ("offer", self._on_offer),
            ("answer", self._on_answer),
            ("ice", self._on_ice),
            ("media_state", self._on_media_state),
            ("peer_left", self._on_peer_left),
            ("call_mode", self._on_call_mode),
            ("sfu_offer", self._on_sfu_offer),
        ):
            self.sio.on(event, handler)
        try:
            await self.sio.connect(
                self.url, transports=["websocket"], auth={"clientId": self.client_id}, wait_timeout=timeout
            )
        except BaseException:
            await self.stop()
            raise
        try:
            await self._wait(lambda: self._joined.is_set() or self._join_error is not None, timeout, "the join ack")
            if self._join_error is not None:
                raise self._join_error
        except BaseException:
            await self.stop()
            raise
        return self

    async def stop(self) -> None:
        self._stopping = True
        with contextlib.suppress(Exception):
            await self.sio.shutdown()  # disconnects, or ends reconnection attempts in progress
        # first the work in progress (which may be making a connection), then the connections
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._close_all()
        if self._player is not None:
            for track in (self._player.audio, self._player.video):
                if track is not None:
                    track.stop()
        if self._http is not None:
            await self._http.close()

    async def __aenter__(self) -> Peer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # what tests and applications ask

    def frames_received(self, peer_id: str) -> dict[str, int]:
        return dict(self.peers[peer_id].frames)

    def peer_named(self, nickname: str) -> RemotePeer | None:
        return next((p for p in self.peers.values() if p.nickname == nickname), None)

    async def wait_for_peer(
        self, peer_id: str | None = None, *, nickname: str | None = None, timeout: float = 20
    ) -> RemotePeer:
        """A participant known to this peer (by id or nickname; any if neither)."""

        def find() -> RemotePeer | None:
            for remote in self.peers.values():
                if (peer_id is None or remote.id == peer_id) and (nickname is None or remote.nickname == nickname):
                    return remote
            return None

        await self._wait(lambda: find() is not None, timeout, f"peer {peer_id or nickname or '(any)'}")
        found = find()
        assert found is not None
        return found

    async def wait_for_connection(self, peer_id: str, timeout: float = 20) -> RemotePeer:
        await self._wait(
            lambda: peer_id in self.peers and self.peers[peer_id].connection_state == "connected",
            timeout,
            f"a connection to {peer_id}",
        )
        return self.peers[peer_id]

    async def wait_for_media(
        self, peer_id: str, kinds: tuple[str, ...] = KINDS, frames: int = 10, timeout: float = 30
    ) -> dict[str, int]:
        """Wait until `frames` more frames of each kind than now have arrived from `peer_id`."""
        await self.wait_for_peer(peer_id, timeout=timeout)
        start = {kind: self.peers[peer_id].frames[kind] for kind in kinds}

        def grown() -> bool:
            remote = self.peers.get(peer_id)
            return remote is not None and all(remote.frames[k] >= start[k] + frames for k in kinds)

        await self._wait(grown, timeout, f"{frames} {'+'.join(kinds)} frames from {peer_id}")
        return self.frames_received(peer_id)

    async def wait_for_departure(self, peer_id: str, timeout: float = 20) -> None:
        await self._wait(lambda: peer_id not in self.peers, timeout, f"{peer_id} to leave")

    async def call(self, peer_id: str) -> None:
        """Offer to `peer_id` now (a fresh connection), whoever would normally offer."""
        remote = self.peers[peer_id]
        async with remote.lock:
            await self._replace_connection(remote)
            await self._offer(remote)

    async def set_media(self, **media: bool) -> dict[str, bool]:
        """Tell the others what this peer sends (`audio=False`, ...); returns the whole state."""
        reply = await self.sio.call("media_state", (self.room, media), timeout=10)
        state: dict[str, bool] = _checked(reply, "media_state")["media"]
        return state

    async def leave_call(self) -> None:
        _checked(await self.sio.call("leave_call", self.room, timeout=10), "leave_call")
        self._joined.clear()
        await self._close_all()

    # signaling events

    async def _on_connect(self) -> None:
        # Also after a reconnection: the others saw our old socket leave and closed their
        # connections to it, so start over with the new id; they will offer to us again.
        self.id = self.sio.get_sid()
        self._joined.clear()
        self._spawn(self._join(), "join")

    async def _join(self) -> None:
        await self._close_all()
        try:
            _checked(await self.sio.call("nickname", self.name, timeout=10), "nickname")
            media = {"audio": self._sends("audio"), "video": self._sends("video"), "screen": False}
            options = {"media": media, "sfu": self.sfu}
            reply = _checked(await self.sio.call("join_room", (self.room, options), timeout=10), "join_room")
        except PeerError as error:
            self._join_error = error
            self._notify()
            return
        except (TimeoutError, socketio.exceptions.SocketIOError) as error:
            log.warning("join of %s failed (%s); waiting for the next connection", self.room, error)
            return
        self._take_ice_servers(reply)
        self.ice_transport_policy = self.ice_transport_policy_override or reply["iceTransportPolicy"]
        for peer in reply["peers"]:
            self._remote(peer["id"], peer["nickname"]).media = dict(peer["media"])
        self.joins += 1
        self.mode = reply.get("mode", "mesh")
        if self.mode == "sfu":
            self._spawn(self._sfu_start(), "sfu-start")
        self._joined.set()
        log.info("joined call room=%s id=%s peers=%d", self.room, self.id, len(reply["peers"]))
        self._notify()

    def _take_ice_servers(self, reply: dict) -> None:
        self.ice_servers = self.ice_servers_override if self.ice_servers_override is not None else reply["iceServers"]
        ttl = reply.get("iceTtl")
        self._ice_renew_at = asyncio.get_running_loop().time() + ttl / 2 if ttl else None

    async def _renew_ice_servers(self) -> None:
        """Fresh TURN credentials (`ice_servers`) once half their life is gone, for a new connection
        (aiortc cannot restart ICE: every repair is a new connection, with a new allocation)."""
        if self.ice_servers_override is not None or self._ice_renew_at is None:
            return
        if asyncio.get_running_loop().time() < self._ice_renew_at:
            return
        try:
            self._take_ice_servers(_checked(await self.sio.call("ice_servers", self.room, timeout=10), "ice_servers"))
        except (TimeoutError, PeerError, socketio.exceptions.SocketIOError) as error:
            log.warning("could not renew TURN credentials (%s); using the ones we have", error)

    async def _on_welcome(self, nickname: str, count: int, info: dict | None = None, *_: Any) -> None:
        if not isinstance(info, dict) or not info.get("call") or info.get("room") != self.room:
            return  # someone who only chats
        peer = info["peer"]
        remote = self._remote(peer["id"], peer["nickname"])
        remote.media = dict(peer["media"])
        if self.mode == "sfu":
            return  # its streams come through the SFU
        # the classic direction: those already in the call offer to the newcomer
        async with remote.lock:
            await self._replace_connection(remote)
            await self._offer(remote)

    async def _on_offer(self, description: dict, from_id: str | None = None, info: dict | None = None, *_: Any) -> None:
        if from_id is None or not self._for_us(info):
            return
        remote = self._remote(from_id, (info or {}).get("from", {}).get("nickname", "?"))
        async with remote.lock:
            pc = remote.pc
            if pc is not None and (pc.signalingState == "closed" or pc.connectionState in ("failed", "closed")):
                pc = None  # a connection the other side closed (or that failed) cannot collide: start anew
            collision = remote.making_offer or (pc is not None and pc.signalingState != "stable")
            polite = (self.id or "") < from_id
            remote.ignore_offer = collision and not polite
            if remote.ignore_offer:
                self.ignored_offers += 1
                log.info("glare with %s: impolite, ignoring its offer", from_id)
                return
            if collision or pc is None or _restarts(pc, description):
                # The polite side of a glare (aiortc cannot roll back), or an ICE restart or a new
                # connection on the other side (aiortc cannot restart ICE): answer on a fresh connection.
                pc = await self._replace_connection(remote, add_tracks=False)
            offer = RTCSessionDescription(description["sdp"], "offer")
            try:
                await pc.setRemoteDescription(offer)
            except Exception as error:
                # what aiortc cannot renegotiate (an ICE restart, a changed DTLS fingerprint...) it
                # can still take on a fresh connection
                log.info("offer from %s needs a fresh connection: %s", from_id, error)
                pc = await self._replace_connection(remote, add_tracks=False)
                await pc.setRemoteDescription(offer)
            self._add_tracks(pc, answering=True)
            await pc.setLocalDescription(await pc.createAnswer())
            await self._send("answer", {"type": "answer", "sdp": pc.localDescription.sdp}, from_id)

    async def _on_answer(
        self, description: dict, from_id: str | None = None, info: dict | None = None, *_: Any
    ) -> None:
        remote = self.peers.get(from_id or "")
        if remote is None or not self._for_us(info):
            return
        async with remote.lock:
            if remote.pc is None or remote.pc.signalingState != "have-local-offer":
                log.info(
                    "answer from %s arrived in state %s; dropped",
                    from_id,
                    remote.pc.signalingState if remote.pc else "no connection",
                )
                return
            await remote.pc.setRemoteDescription(RTCSessionDescription(description["sdp"], "answer"))

    async def _on_ice(
        self, candidate: dict | None, from_id: str | None = None, info: dict | None = None, *_: Any
    ) -> None:
        remote = self.peers.get(from_id or "")
        if remote is None or not self._for_us(info) or not candidate or not candidate.get("candidate"):
            return  # end-of-candidates needs nothing: aiortc's checks run on what it has
        async with remote.lock:
            if remote.pc is None or remote.pc.remoteDescription is None:
                return
            try:
                parsed = candidate_from_sdp(candidate["candidate"].split(":", 1)[1])
                parsed.sdpMid = candidate.get("sdpMid")
                parsed.sdpMLineIndex = candidate.get("sdpMLineIndex")
                await remote.pc.addIceCandidate(parsed)
            except Exception as error:  # a candidate aiortc cannot use (mDNS, ...) must not stop the call
                if not remote.ignore_offer:
                    log.info("candidate from %s not used: %s", from_id, error)

    async def _on_media_state(self, info: object, *_: Any) -> None:
        if isinstance(info, dict) and info.get("id") in self.peers and self._for_us(info):
            self.peers[info["id"]].media = dict(info["media"])
            self._notify()

    async def _on_peer_left(self, info: object, *_: Any) -> None:
        if not isinstance(info, dict) or not self._for_us(info):
            return
        remote = self.peers.pop(info.get("id", ""), None)
        if remote is not None:
            log.info("peer left: %s (%s)", remote.id, remote.nickname)
            await self._close(remote)
        self._notify()

    # the SFU

    async def _on_call_mode(self, info: object, *_: Any) -> None:
        if not isinstance(info, dict) or not self._for_us(info) or not self._joined.is_set():
            return
        self.mode = info.get("mode", "mesh")
        log.info("call mode: %s %s", self.mode, info.get("reason", ""))
        if self.mode == "sfu":
            self._spawn(self._sfu_start(), "sfu-start")
            return
        if self._sfu is not None:
            await self._sfu.close()
            self._sfu = None
        for remote in list(self.peers.values()):  # back to a mesh: the lower id offers
            if remote.pc is None and (self.id or "") < remote.id:
                self._spawn(self.call(remote.id), f"remesh-{remote.id}")

    async def _on_sfu_offer(self, info: object, *_: Any) -> None:
        if not isinstance(info, dict) or not self._for_us(info):
            return
        if self._sfu is None:
            self._sfu = self._new_sfu_session()
        try:
            await self._sfu.offered(info)
        except Exception as error:
            log.warning("SFU offer not taken: %r", error)

    async def _sfu_start(self) -> None:
        """Publish to the SFU (again, after a move); what others send arrives with sfu_offer."""
        if self._sfu is not None:
            await self._sfu.close()
        session = self._sfu = self._new_sfu_session()
        tracks = [track for track in (self._track("audio"), self._track("video")) if track is not None]
        self.sfu_moves += 1
        try:
            if tracks:
                await session.publish(tracks)
        except (PeerError, TimeoutError, socketio.exceptions.SocketIOError) as error:
            log.warning("could not publish to the SFU: %s", error)
        if not (self.receive_audio or self.receive_video):
            # a sender only: no SFU frames will say the SFU carries the others; the mesh goes now
            for remote in list(self.peers.values()):
                if remote.pc is not None:
                    self._spawn(self._close(remote), f"close-mesh-{remote.id}")
        self._notify()

    def _new_sfu_session(self) -> SfuSession:
        async def call(event: str, request: dict) -> dict:
            return _checked(await self.sio.call(event, request, timeout=15), event)

        for remote in self.peers.values():
            remote.sfu_frames = 0

        async def failed() -> None:
            log.warning("media cannot reach the SFU; telling the server")
            try:
                await call("sfu_status", {"room": self.room, "ok": False})
            except (PeerError, TimeoutError, socketio.exceptions.SocketIOError) as error:
                log.warning("the call cannot go back to peer to peer: %s", error)

        async def new_pc() -> RTCPeerConnection:
            # Janus bundles every stream on one transport. aiortc gives a transceiver that an offer
            # leaves out of its BUNDLE group (a stream Janus had not set up yet) a transport of
            # its own, never connected: that person's video was received by nobody (their packets,
            # routed by payload type, went to another person's decoder). Max-bundle puts it on
            # the one transport whatever the offer says.
            return await self._new_pc(RTCBundlePolicy.MAX_BUNDLE)

        return SfuSession(self.room, new_pc, call, self._sfu_frame, failed, self.receive_video, self.receive_audio)

    def _sfu_frame(self, peer_id: str, kind: str) -> None:
        remote = self.peers.get(peer_id)
        if remote is None:
            return
        remote.frames[kind] += 1
        remote.sfu_frames += 1
        if remote.sfu_frames == SFU_FRAMES_BEFORE_CLOSING_MESH and remote.pc is not None:
            # make before break: the mesh connection goes once the SFU's frames arrive
            self._spawn(self._close(remote), f"close-mesh-{peer_id}")
        self._notify()

    # connections and media

    async def _new_pc(self, bundle: RTCBundlePolicy = RTCBundlePolicy.BALANCED) -> RTCPeerConnection:
        await self._renew_ice_servers()
        servers = [
            RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
            for s in self.ice_servers
        ]
        return RTCPeerConnection(
            RTCConfiguration(
                iceServers=servers, iceTransportPolicy=_policy(self.ice_transport_policy), bundlePolicy=bundle
            )
        )

    def _remote(self, peer_id: str, nickname: str) -> RemotePeer:
        remote = self.peers.get(peer_id)
        if remote is None:
            remote = self.peers[peer_id] = RemotePeer(peer_id, nickname)
            self._notify()
        return remote

    async def _replace_connection(self, remote: RemotePeer, *, add_tracks: bool = True) -> RTCPeerConnection:
        await self._close(remote)
        if self._stopping:
            raise asyncio.CancelledError  # an event handled while stopping makes no new connection
        pc = await self._new_pc()
        remote.pc = pc
        remote.ignore_offer = False

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            remote.tracks[track.kind] = track
            self._spawn(self._count_frames(remote, pc, track), f"receive-{track.kind}-{remote.id}")

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            log.info("connection to %s (%s): %s", remote.id, remote.nickname, pc.connectionState)
            self._notify()
            if pc.connectionState == "connected":
                remote.failures = 0
            elif pc.connectionState == "failed" and remote.pc is pc:
                remote.failures += 1
                if (self.id or "") > remote.id and remote.failures <= MAX_RETRIES:
                    # aiortc has no ICE restart: the impolite side starts a fresh connection
                    self._spawn(self.call(remote.id), f"recall-{remote.id}")

        if add_tracks:
            self._add_tracks(pc, answering=False)
        return pc

    def _add_tracks(self, pc: RTCPeerConnection, *, answering: bool) -> None:
        for kind in KINDS:
            transceivers = [t for t in pc.getTransceivers() if t.kind == kind]
            if any(t.sender.track is not None for t in transceivers):
                continue  # sending already (a renegotiation)
            if answering and not transceivers:
                continue  # the offer has no such m-line: nothing to answer with
            track = self._track(kind)
            if track is not None:
                pc.addTrack(track)
            elif not answering:
                pc.addTransceiver(kind, direction="recvonly")

    def _sends(self, kind: str) -> bool:
        if self._player is not None:
            return getattr(self._player, kind) is not None
        return self.send_audio if kind == "audio" else self.send_video

    def _track(self, kind: str) -> MediaStreamTrack | None:
        """A new track for one connection (each connection consumes its own frames)."""
        if not self._sends(kind):
            return None
        if self._player is not None:
            return self._relay.subscribe(getattr(self._player, kind))
        return ToneAudioTrack() if kind == "audio" else PatternVideoTrack()

    async def _offer(self, remote: RemotePeer) -> None:
        """Offer on the current connection; called holding `remote.lock`, so that nothing about
        this peer is handled between making the offer and sending it."""
        pc = remote.pc
        if pc is None:
            return
        remote.making_offer = True
        try:
            await pc.setLocalDescription(await pc.createOffer())  # gathers every candidate
            await self._send("offer", {"type": "offer", "sdp": pc.localDescription.sdp}, remote.id)
        finally:
            remote.making_offer = False

    async def _send(self, event: str, description: dict, to_id: str) -> None:
        try:
            reply = await self.sio.call(event, (description, self.room, to_id), timeout=10)
        except (TimeoutError, socketio.exceptions.SocketIOError) as error:
            log.warning("%s to %s not sent: %s", event, to_id, error)
            return
        if not reply.get("ok"):
            log.warning("%s to %s refused: %s", event, to_id, reply.get("error"))

    async def _count_frames(self, remote: RemotePeer, pc: RTCPeerConnection, track: MediaStreamTrack) -> None:
        while True:
            try:
                await track.recv()
            except MediaStreamError:
                return
            if remote.pc is pc:
                remote.frames[track.kind] += 1
                self._notify()

    async def _close(self, remote: RemotePeer) -> None:
        pc, remote.pc = remote.pc, None
        remote.tracks.clear()
        if pc is not None:
            await pc.close()

    async def _close_all(self) -> None:
        if self._sfu is not None:
            await self._sfu.close()
            self._sfu = None
        peers = list(self.peers.values())
        self.peers.clear()
        for remote in peers:
            await self._close(remote)
        self._notify()

    # plumbing

    def _for_us(self, info: dict | None) -> bool:
        return not isinstance(info, dict) or info.get("room", self.room) == self.room

    def _spawn(self, coroutine: Any, name: str) -> None:
        task = asyncio.create_task(coroutine, name=f"peer-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and not self._stopping:
            log.error("peer task %s failed", task.get_name(), exc_info=task.exception())

    def _notify(self) -> None:
        self._changed.set()

    async def _wait(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not condition():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise PeerError(f"timed out after {timeout}s waiting for {what}; peers: {self.describe()}")
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 1.0))

    def describe(self) -> str:
        return ", ".join(f"{p.id}({p.nickname}) {p.connection_state} {p.frames}" for p in self.peers.values()) or "none"


def _ice_credentials(sdp: str) -> set[str]:
    return {line.strip() for line in sdp.splitlines() if line.startswith(("a=ice-ufrag:", "a=fingerprint:"))}


def _restarts(pc: RTCPeerConnection, offer: dict) -> bool:
    """Whether an offer changes the ICE credentials or DTLS fingerprint of the current connection."""
    current = pc.remoteDescription  # None before the first offer, whatever aiortc's annotation says
    return current is not None and _ice_credentials(current.sdp) != _ice_credentials(offer["sdp"])  # type: ignore[redundant-expr]


def _policy(name: str) -> RTCIceTransportPolicy:
    return RTCIceTransportPolicy.RELAY if name == "relay" else RTCIceTransportPolicy.ALL


def _checked(reply: Any, event: str) -> dict:
    if not isinstance(reply, dict) or not reply.get("ok"):
        error = (reply or {}).get("error", {}) if isinstance(reply, dict) else {}
        raise PeerError(f"{event} refused: {error.get('code', '?')}: {error.get('message', reply)}")
    return reply


STATUS_INTERVAL = 5.0


async def run_peer(url: str, room: str, **options: Any) -> int:
    """`videochat peer`: join, log what arrives every few seconds, leave on SIGINT/SIGTERM."""
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    peer = Peer(url, room, **options)
    try:
        await peer.start()
    except (PeerError, socketio.exceptions.ConnectionError) as error:
        log.error("could not join %s at %s: %s", room, url, error)
        await peer.stop()
        return 1
    log.info("in the call of %r as %s (%s); Ctrl-C leaves", room, peer.name, peer.id)
    seen: dict[tuple[str, str], int] = {}
    try:
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), STATUS_INTERVAL)
            # whose media arrived since the last status
            now = {(r.id, kind): r.frames[kind] for r in peer.peers.values() for kind in KINDS}
            grew = [key for key, count in now.items() if count > seen.get(key, 0)]
            seen = now
            log.info(
                "receiving video from %d and audio from %d of %d others (call: %s)",
                sum(1 for _, kind in grew if kind == "video"),
                sum(1 for _, kind in grew if kind == "audio"),
                len(peer.peers),
                peer.mode,
            )
            for remote in list(peer.peers.values()):
                log.info(
                    "from %s (%s): %s, %d video and %d audio frames received",
                    remote.nickname,
                    remote.id,
                    remote.connection_state,
                    remote.frames["video"],
                    remote.frames["audio"],
                )
    finally:
        await peer.stop()
    log.info("left the call")
    return 0
