"""Every Socket.IO handler group and the services they share, built from the settings and
registered on the server: who gets what is written here, once, as constructor arguments.

Services, each given what it uses:
    Owners      who owns a room, who a member is across connections   (room model, access)
    RoomList    the public room list and `room_change`                 (room model, access)
    Calls       leaving a room's call                                  (room model)
    Departures  leaving rooms, and rooms that empty                    (Owners, Calls, RoomList, history)
    Admission   who may enter a room                                   (Owners, limiter)
    Entry       what follows a join, and the entry's ack               (Owners, Departures, RoomList, history)
    WaitingRoom the door of a room that asks people to wait, `knock_answer` (Owners)
Handler groups: Sessions (Departures), Rooms (Admission, Entry, Departures), Chat (history), Files
(the uploads folder; the HTTP side is web/files.py), Reactions,
Hands (Owners), WaitingRoom,
Moderation (Owners, Departures), Signaling (Admission, Entry, Calls, SfuSignaling), SfuSignaling
(the Janus instances and the calls on them; only when the SFU is on).
"""

from __future__ import annotations

from videochat.events.admission import Admission
from videochat.events.calls import Calls
from videochat.events.chat import Chat
from videochat.events.departures import Departures
from videochat.events.entry import Entry
from videochat.events.files import Files
from videochat.events.hands import Hands
from videochat.events.ice import IceServers
from videochat.events.identity import BrowserIds
from videochat.events.knocks import WaitingRoom
from videochat.events.moderation import Moderation
from videochat.events.owners import Owners
from videochat.events.reactions import Reactions
from videochat.events.realtime import Server, refuse_unknown_events
from videochat.events.recordings import Recordings
from videochat.events.roomlist import RoomList
from videochat.events.rooms import Rooms
from videochat.events.sessions import Sessions
from videochat.events.sfu import SfuSignaling
from videochat.events.signaling import Signaling
from videochat.model.access import Access
from videochat.model.attempts import PasswordAttempts
from videochat.model.callmode import CallPolicy
from videochat.model.files import Tickets
from videochat.model.ratelimit import Limiter
from videochat.model.rooms import Registry
from videochat.model.validation import Limits
from videochat.settings import Settings
from videochat.sfu.calls import SfuCalls
from videochat.sfu.instances import Instances
from videochat.storage.base import History
from videochat.storage.uploads import Uploads


class EventHandlers:
    """The handlers of the default namespace, registered on `sio`; the services others need too
    (the room list for pages, departures for the cluster, rooms for the Admin UI) as attributes."""

    def __init__(
        self,
        sio: Server,
        settings: Settings,
        *,
        registry: Registry,
        access: Access,
        history: History,
        limits: Limits,
        limiter: Limiter,
        identities: BrowserIds,
        ice: IceServers,
        uploads: Uploads,
        instances: Instances | None = None,
    ) -> None:
        self.owners = Owners(sio, registry, access)
        self.waiting_room = WaitingRoom(
            sio, registry, limits, access, self.owners, max_knocks_per_connection=settings.max_rooms_per_connection
        )
        self.room_list = RoomList(sio, registry, access, size=settings.room_list_size, rate=settings.room_list_rate)
        self.policy = CallPolicy(
            sfu_from=settings.sfu_from if instances is not None else 0,
            max_call_size=settings.max_call_size,
            max_sfu_call_size=settings.max_sfu_call_size,
        )
        self.sfu: SfuSignaling | None = None
        if instances is not None:

            async def send(sid: str, event: str, payload: dict) -> None:
                await sio.emit(event, payload, to=sid)

            self.sfu = SfuSignaling(
                sio,
                registry,
                limits,
                self.policy,
                instances,
                SfuCalls(
                    instances,
                    send,
                    bitrate_bps=settings.upload_budget_kbps * 1000,
                    max_publishers=2 * settings.max_sfu_call_size,
                ),
                max_sdp_bytes=settings.max_sdp_bytes,
                max_candidate_bytes=settings.max_candidate_bytes,
            )
        self.calls = Calls(sio, registry, self.sfu)
        self.departures = Departures(sio, registry, access, history, self.owners, self.calls, self.room_list)
        self.admission = Admission(
            registry,
            access,
            self.owners,
            limiter,
            password_attempts=PasswordAttempts(
                per_room=settings.password_attempts_per_room,
                per_address=settings.password_attempts_per_ip,
                window=settings.password_attempt_window,
            ),
            waiting_room=self.waiting_room,
            wrong_password_delay=settings.wrong_password_delay,
            max_rooms_per_connection=settings.max_rooms_per_connection,
            max_rooms_per_address=settings.max_rooms_per_ip,
        )
        self.entry = Entry(
            sio,
            registry,
            access,
            history,
            self.owners,
            self.departures,
            self.room_list,
            max_call_size=self.policy.cap(instances is not None),
        )
        self.sessions = Sessions(sio, registry, limiter, identities, self.departures)
        self.rooms = Rooms(sio, registry, limits, self.admission, self.entry, self.departures, self.room_list)
        self.chat = Chat(sio, registry, limits, history)
        self.recordings = Recordings(
            sio,
            registry,
            limits,
            self.owners,
            self.sfu,
            settings.recordings_path.resolve(),
            max_bytes=settings.recordings_max_bytes,
            retention=settings.recordings_retention * 86400,
        )
        self.entry.recording = self.recordings.state
        self.departures.on_emptied = self.recordings.call_ended
        if self.sfu is not None:
            self.sfu.call_ended = self.recordings.call_ended
            self.sfu.left_sfu = self.recordings.sfu_lost
        self.files = Files(sio, registry, limits, uploads, Tickets(identities.mac), settings.max_upload_bytes)
        self.reactions = Reactions(sio, registry, limits)
        self.hands = Hands(sio, registry, limits, self.owners)
        self.moderation = Moderation(
            sio,
            registry,
            limits,
            access,
            self.owners,
            self.departures,
            self.room_list,
            self.waiting_room,
            ban_seconds=settings.ban_seconds,
        )
        self.signaling = Signaling(
            sio,
            registry,
            limits,
            self.admission,
            self.entry,
            self.calls,
            ice,
            policy=self.policy,
            upload_budget_kbps=settings.upload_budget_kbps,
            max_sdp_bytes=settings.max_sdp_bytes,
            max_candidate_bytes=settings.max_candidate_bytes,
            sfu=self.sfu,
        )
        groups = (
            self.sessions,
            self.rooms,
            self.chat,
            self.files,
            self.recordings,
            self.reactions,
            self.hands,
            self.moderation,
            self.waiting_room,
            self.signaling,
        )
        for group in (*groups, self.sfu):
            if group is not None:
                group.register()
        if self.sfu is None:
            SfuSignaling.register_off(sio)
        refuse_unknown_events(sio)
