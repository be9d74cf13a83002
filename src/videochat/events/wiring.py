"""Every Socket.IO handler group and the services they share, built from the settings and
registered on the server: who gets what is written here, once, as constructor arguments.

Services, each given what it uses:
    Owners      who owns a room, who a member is across connections   (room model, access)
    RoomList    the public room list and `room_change`                 (room model, access)
    Calls       leaving a room's call                                  (room model)
    Departures  leaving rooms, and rooms that empty                    (Owners, Calls, RoomList, history)
    Admission   who may enter a room                                   (Owners, limiter)
    Entry       what follows a join, and the entry's ack               (Owners, Departures, RoomList, history)
Handler groups: Sessions (Departures), Rooms (Admission, Entry, Departures), Chat (history),
Moderation (Owners, Departures), Signaling (Admission, Entry, Calls).
"""

from __future__ import annotations

from videochat.events.admission import Admission
from videochat.events.calls import Calls
from videochat.events.chat import Chat
from videochat.events.departures import Departures
from videochat.events.entry import Entry
from videochat.events.ice import IceServers
from videochat.events.identity import BrowserIds
from videochat.events.moderation import Moderation
from videochat.events.owners import Owners
from videochat.events.realtime import Server, refuse_unknown_events
from videochat.events.roomlist import RoomList
from videochat.events.rooms import Rooms
from videochat.events.sessions import Sessions
from videochat.events.signaling import Signaling
from videochat.model.access import Access
from videochat.model.attempts import PasswordAttempts
from videochat.model.ratelimit import Limiter
from videochat.model.rooms import Registry
from videochat.model.validation import Limits
from videochat.settings import Settings
from videochat.storage.base import History


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
    ) -> None:
        self.owners = Owners(sio, registry, access)
        self.room_list = RoomList(sio, registry, access, size=settings.room_list_size, rate=settings.room_list_rate)
        self.calls = Calls(sio, registry)
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
            max_call_size=settings.max_call_size,
        )
        self.sessions = Sessions(sio, registry, limiter, identities, self.departures)
        self.rooms = Rooms(sio, registry, limits, self.admission, self.entry, self.departures, self.room_list)
        self.chat = Chat(sio, registry, limits, history)
        self.moderation = Moderation(
            sio,
            registry,
            limits,
            access,
            self.owners,
            self.departures,
            self.room_list,
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
            max_call_size=settings.max_call_size,
            upload_budget_kbps=settings.upload_budget_kbps,
            max_sdp_bytes=settings.max_sdp_bytes,
            max_candidate_bytes=settings.max_candidate_bytes,
        )
        for group in (self.sessions, self.rooms, self.chat, self.moderation, self.signaling):
            group.register()
        refuse_unknown_events(sio)
