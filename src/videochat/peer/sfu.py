"""The Python peer in a call on the SFU (docs/protocol.md, "Calls through the SFU"): one connection
that publishes this peer's audio and video (`sfu_publish`), one that receives everybody else's
(the server's `sfu_offer`, answered with `sfu_answer`), and their streams told apart by mid.

aiortc routes incoming RTP by SSRC (or by payload type when only one receiver has it); the server
offers a stream once Janus receives it, so the offers carry the SSRCs it needs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

log = logging.getLogger(__name__)

CONNECT_SECONDS = 20.0  # a connection to the SFU whose ICE is not up by then counts as failed


class SfuSession:
    """This peer's two connections with the SFU. `make_pc` builds a connection with the call's ICE
    servers; `call(event, request)` sends an SFU event and returns its checked ack; `frame(id, kind)`
    counts a frame received from participant `id`."""

    def __init__(
        self,
        room: str,
        make_pc: Callable[[], Awaitable[RTCPeerConnection]],
        call: Callable[[str, dict], Awaitable[dict]],
        frame: Callable[[str, str], None],
        failed: Callable[[], Awaitable[None]] | None = None,
        receive_video: bool = True,
        receive_audio: bool = True,
    ) -> None:
        self.room = room
        self._make_pc = make_pc
        self._call = call
        self._frame = frame
        self._failed = failed
        self.receive_video = receive_video  # False: the video m-lines are answered inactive
        self.receive_audio = receive_audio  # and the audio ones
        self._reported = False
        self.publisher: RTCPeerConnection | None = None
        self.subscriber: RTCPeerConnection | None = None
        self.streams: dict[str, dict] = {}  # mid -> {id, source, kind}
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task] = set()

    def _watch(self, pc: RTCPeerConnection) -> None:
        """A connection to the SFU that fails, or whose ICE has not connected CONNECT_SECONDS after
        it was made (a firewall that drops UDP silently; no usable candidate at all), is reported
        once. ICE up and DTLS late is a slow machine, not a firewall: not reported."""

        async def report() -> None:
            if not self._reported and self._failed is not None and pc in (self.publisher, self.subscriber):
                self._reported = True  # once: the server decides for the whole call
                await self._failed()

        @pc.on("connectionstatechange")
        async def changed() -> None:
            if pc.connectionState == "failed":
                await report()

        async def deadline() -> None:
            await asyncio.sleep(CONNECT_SECONDS)
            if pc.connectionState != "closed" and pc.iceConnectionState in ("new", "checking"):
                await report()

        task = asyncio.create_task(deadline(), name="peer-sfu-deadline")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def publish(self, tracks: list[MediaStreamTrack]) -> None:
        pc = self.publisher = await self._make_pc()
        self._watch(pc)
        for track in tracks:
            pc.addTransceiver(track, direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())  # aiortc gathers every candidate first
        offer = {"type": "offer", "sdp": pc.localDescription.sdp}
        reply = await self._call("sfu_publish", {"room": self.room, "source": "camera", "offer": offer})
        await pc.setRemoteDescription(RTCSessionDescription(reply["answer"]["sdp"], "answer"))
        await self._call("sfu_candidate", {"room": self.room, "target": "camera", "candidate": None})

    async def offered(self, info: dict) -> None:
        """The server's `sfu_offer`: what this peer receives now."""
        async with self._lock:
            pc = self.subscriber
            if pc is not None and info.get("fresh"):  # subscribed afresh (our answer came too late)
                await pc.close()
                pc = self.subscriber = None
            if pc is None:
                pc = self.subscriber = await self._make_pc()
                self._watch(pc)
                pc.on("track", lambda track: self._receive(pc, track))
            for stream in info.get("streams", []):
                self.streams[stream["mid"]] = stream
            await pc.setRemoteDescription(RTCSessionDescription(info["offer"]["sdp"], "offer"))
            # what is not received is answered inactive: Janus then sends nothing there to decode
            ignored = {"video"} if not self.receive_video else set()
            ignored |= {"audio"} if not self.receive_audio else set()
            for transceiver in pc.getTransceivers():
                if transceiver.kind in ignored:
                    transceiver.direction = "inactive"
            await pc.setLocalDescription(await pc.createAnswer())
            answer = {"type": "answer", "sdp": pc.localDescription.sdp}
            await self._call("sfu_answer", {"room": self.room, "seq": info["seq"], "answer": answer})
            # No layer is chosen (Janus sends the biggest it receives, and falls back to smaller
            # ones when a bigger one stops). Asking for the smallest left a person's video stuck
            # for good: Janus switches a subscriber up only towards the layer asked for, so when
            # the small layer it had switched to stopped (Chromium sends it now and then, a page
            # starved of CPU not at all), nothing came any more.

    def _receive(self, pc: RTCPeerConnection, track: MediaStreamTrack) -> None:
        mid = next((t.mid for t in pc.getTransceivers() if t.receiver.track is track), None)
        task = asyncio.create_task(self._count(mid, track), name=f"peer-sfu-receive-{mid}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _count(self, mid: str | None, track: MediaStreamTrack) -> None:
        while True:
            try:
                await track.recv()
            except MediaStreamError:
                return
            stream = self.streams.get(mid or "")
            if stream is not None:
                self._frame(stream["id"], track.kind)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for pc in (self.publisher, self.subscriber):
            if pc is not None:
                await pc.close()
        self.publisher = self.subscriber = None
        self.streams.clear()
