// The conversation with the videochat server (docs/protocol.md), and nothing else: this module never
// touches the DOM. A page creates one ChatConnection, follows the events it cares about (ChatEvents)
// and calls the methods, which return promises settled by the server's acknowledgements.

import { io } from "/static/vendor/socket.io.esm.min.js";
import { Emitter } from "./events.js";
import { browserId, saveBrowserId } from "./storage.js";

/** @typedef {{id: string, nickname: string}} Member */
/** @typedef {{id: string, name: string, size: number, type: string, url: string}} SharedFile a file in the chat: type is an image's, or application/octet-stream */
/** @typedef {{id: string, room: string, author: Member, text: string, time: number, to?: Member, file?: SharedFile}} Message to: a direct message's one reader; file: the file it shows (text: its name) */
/** @typedef {{name: string, count: number, locked?: boolean}} RoomSummary */
/** @typedef {{owner: string | null, locked: boolean, private: boolean, maxMembers: number | null, knock?: boolean}} RoomSettings knock: newcomers wait until the owner lets them in */
/** @typedef {{id: string, nickname: string, since: number}} Knock someone waiting to enter, since when (the server's clock, seconds) */
/** @typedef {{id: string, hand: number}} Hand a raised hand: whose, and when it went up (the server's clock, seconds) */
/** @typedef {{ok: true, room: string, you: Member, count: number, members: Member[], history: Message[], inCall?: string[], hands?: Hand[], maxCallSize?: number, recording?: Recording | null, settings?: RoomSettings}} EnterAck inCall: ids of the call's participants; hands: their raised hands */
/** @typedef {{room: string, member: Member, count: number, call: boolean}} Presence call: they joined the call */
/** @typedef {"connecting" | "connected" | "reconnecting" | "disconnected"} Status */
/** @typedef {{audio: boolean, video: boolean, screen: boolean, quality?: import("./quality.js").Quality}} MediaState quality: how the participant's page grades its connection */
/** @typedef {{id: string, nickname: string, media: MediaState}} Peer */
/** @typedef {{iceServers: RTCIceServer[], iceTransportPolicy: RTCIceTransportPolicy, iceTtl: number | null}} IceAck iceTtl: seconds the TURN credentials last (null: none) */
/** @typedef {{id: string, by: Member, since: number}} Recording a recording under way: who started it, when (ms) */
/**
 * @typedef {{id: string, room: string, since: number, duration: number | null, state: "recording" | "processing" | "ready" | "failed",
 *     progress: number, error?: string, url?: string}} RecordingFile a recording we made, as its file goes
 */
/** @typedef {{id: string, url: string, ticket: string, name: string, size: number, expires: number}} Upload leave to PUT one file's bytes */
/** @typedef {"mesh" | "sfu"} CallMode peer to peer, or through the SFU (docs/sfu.md) */
/** @typedef {EnterAck & IceAck & {peers: Peer[], uploadBudgetKbps: number, mode?: CallMode}} JoinAck */
/** @typedef {{mid: string, kind: "audio" | "video", id: string, source: "camera" | "screen"}} SfuStream */
/** @typedef {{room: string, from: string, member: Member | null}} Sender */

/** An error the server answered with (`{code, message}`), or one of ours: offline, timeout, disconnected. */
export class ProtocolError extends Error {
    /**
     * @param {string} code
     * @param {string} message
     * @param {string} [event] the event the server refused, when it said
     */
    constructor(code, message, event) {
        super(message);
        this.name = "ProtocolError";
        this.code = code;
        this.event = event;
    }
}

/**
 * What a ChatConnection tells, by event name, with the `detail` each event carries. Follow one with
 * `connection.on(name, (detail) => ...)` (or addEventListener and `event.detail`); any number of
 * listeners may follow the same event.
 * @typedef {object} ChatEvents
 * @property {{status: Status, shutdown: boolean}} status the connection's state changed; shutdown:
 *     the server said it is stopping (a restart, most likely)
 * @property {Presence} welcome someone else entered our room (or joined its call: `call`)
 * @property {Presence} bye someone else left our room
 * @property {Message} message a message from someone else (our own come back in sendMessage's ack)
 * @property {Message} direct a direct message someone wrote to us alone (ours come back in
 *     sendDirect's ack)
 * @property {RoomSummary[]} rooms the list of open rooms changed
 * @property {{room: string, member: Member, old: string}} nickname someone in one of our rooms,
 *     maybe us, changed name
 * @property {EnterAck} rejoin back in the room after a reconnect: fresh members and history
 * @property {ProtocolError} rejoinrefused the room would not take us back after a reconnect (its
 *     password changed meanwhile, it filled up, we were removed): we are out of it, and of its call
 * @property {{message: string}} shutdown the server announced it is stopping; reconnection follows
 * @property {ProtocolError} error an error not tied to a request of ours
 * @property {{room: string, peer: Peer}} callwelcome someone joined our call
 * @property {JoinAck} callrejoin back in the call after a reconnect
 * @property {ProtocolError} callrejoinfailed going back into the call after a reconnect failed
 *     (call_full, ...)
 * @property {{description: RTCSessionDescriptionInit, sender: Sender}} offer
 * @property {{description: RTCSessionDescriptionInit, sender: Sender}} answer
 * @property {{candidate: RTCIceCandidateInit | null, sender: Sender}} ice
 * @property {{room: string, id: string, media: MediaState}} mediastate a peer of our call changed
 *     what it sends
 * @property {{room: string, id: string, emoji: string}} reaction someone in our call reacted
 * @property {{hands: Hand[], changed?: string, by?: Member | null}} hands the raised hands of our
 *     room's call changed (the first raised first); changed: whose, by: the owner who lowered it
 * @property {{room: string, id: string, nickname: string}} peerleft someone left our call (the room
 *     or only the call)
 * @property {{callers: Member[], max: number}} callers who is in our room's call changed (we are
 *     among them while we are in it), whether or not we are in it; max: the most the call takes
 *     (0: unknown)
 * @property {RoomSettings & {room: string}} roomupdate our room's owner or settings changed
 * @property {{room: string, by: Member, seconds: number}} removed the owner removed us from our
 *     room (we stay connected, and do not go back in by ourselves)
 * @property {{room: string, by: Member}} muterequest the owner asks us to mute our microphone
 * @property {{room: string, recording: Recording | null, by?: Member, reason?: string}} recording our
 *     room's call began (recording) or stopped (null) being recorded: by the owner, or the call ended
 * @property {RecordingFile} recordingfile one of our recordings of this room: its processing, or ready
 * @property {{room: string, waiting: Knock[]}} knock to the room's owner: who waits to enter now
 *     (the whole list, the first to ask first)
 * @property {{room: string, by: Member | null}} admitted the owner let us in: enter again
 * @property {{room: string, by: Member | null}} declined the owner did not let us in
 * @property {{room: string, mode: CallMode, reason?: string, moved?: boolean}} callmode our call
 *     moved between peer to peer and the SFU (moved: to another SFU instance: publish again)
 * @property {{room: string, seq: number, offer: RTCSessionDescriptionInit, streams: SfuStream[], fresh?: boolean}} sfuoffer
 * @property {{room: string, source: string, layer: number}} sfusend the highest layer of our camera anyone receives
 *     what we receive from the SFU changed: answer with sfu("sfu_answer", ...)
 */

/** @extends {Emitter<ChatEvents>} */
export class ChatConnection extends Emitter {
    /** @type {Status} */
    #status = "disconnected";
    #shutdown = false;
    #shutdownShown = false;
    #everConnected = false;
    /** @type {string | null} the nickname the server should know us by, re-sent on every connect */
    #nickname = null;
    /** @type {string | null} the room we are in, re-entered on every connect */
    #room = null;
    /** @type {Member | null} */
    #you = null;
    /** @type {Array<() => void>} */
    #waitingForConnection = [];
    /** @type {{room: string, media: MediaState} | null} the call we are in, re-joined on every connect */
    #call = null;
    /** @type {{password?: string, private?: boolean}} how we entered #room, to enter it again on reconnect */
    #entry = {};
    /** @type {Map<string, Member>} who is in #room's call */
    #callers = new Map();
    /** @type {Map<string, number>} the raised hands of our room's call: id -> when */
    #hands = new Map();
    #maxCallSize = 0;
    /** @type {Set<string>} the codes of a room refusing us, which end a rejoin (the page config's) */
    #entryRefusals;

    /**
     * @param {{url?: string, timeout?: number, clientId?: string, entryRefusals?: Iterable<string>}} [options]
     *     timeout: how long to wait for an ack, in ms; clientId: this tab's id, which lets the server
     *     drop our previous socket at once when we reconnect (docs/protocol.md); entryRefusals: the
     *     error codes with which a room refuses us (the server's, config.js `errors.entry`): one of
     *     them on the way back in after a reconnect puts us out of the room (`rejoinrefused`)
     */
    constructor(options = {}) {
        super();
        this.timeout = options.timeout ?? 10000;
        this.#entryRefusals = new Set(options.entryRefusals ?? []);
        const clientId = options.clientId;
        // Read on every (re)connect: the id the server issued on the first connection goes back.
        const auth = (/** @type {(data: object) => void} */ send) => {
            const id = browserId();
            send({ ...(id ? { browserId: id } : {}), ...(clientId ? { clientId } : {}) });
        };
        /** @type {Partial<import("socket.io-client").ManagerOptions & import("socket.io-client").SocketOptions>} */
        const socketOptions = { autoConnect: false, reconnectionDelay: 500, reconnectionDelayMax: 3000, auth };
        this.socket = options.url ? io(options.url, socketOptions) : io(socketOptions);
        this.#listen();
    }

    /** @returns {Status} */
    get status() { return this.#status; }
    get nickname() { return this.#nickname; }
    get room() { return this.#room; }
    /** Our member entry in the current room (its id changes on every reconnect). */
    get you() { return this.#you; }
    /** Who is in our room's call. @returns {Member[]} */
    get callers() { return [...this.#callers.values()]; }

    /** The raised hands of our room's call, the first raised first. @returns {Hand[]} */
    get hands() {
        return [...this.#hands].map(([id, hand]) => ({ id, hand })).sort((a, b) => a.hand - b.hand || (a.id < b.id ? -1 : 1));
    }

    /** Opens the connection; resolves once connected (and our nickname and room are restored). */
    connect() {
        if (!this.socket.connected && !this.socket.active) {
            this.#setStatus("connecting");
            this.socket.connect();
        }
        return this.#whenConnected();
    }

    /** Closes the connection for good (no reconnection). */
    close() {
        this.socket.disconnect();
        this.#setStatus("disconnected");
    }

    /**
     * Sets our nickname. Waits for the connection if there is none yet.
     * @param {string} name
     * @returns {Promise<{ok: true, nickname: string}>}
     */
    async setNickname(name) {
        const ack = await this.#requestOnceConnected("nickname", name);
        this.#nickname = ack.nickname;
        return ack;
    }

    /**
     * Enters a room; the ack has its members and recent history. Waits for the connection if needed.
     * @param {string} room
     * @param {{password?: string, private?: boolean}} [options] a locked room's password; private: true
     *   creates the room unlisted (if it does not exist yet)
     * @returns {Promise<EnterAck>}
     */
    async enterRoom(room, options = {}) {
        const ack = await this.#requestOnceConnected("enter_room", entryArgument(room, options));
        this.#entry = { ...options, private: Boolean(ack.settings?.private) };
        this.#inRoom(ack);
        return ack;
    }

    /**
     * The owner changes the room: `{password: string | null, maxMembers: number | null, private: boolean,
     * knock: boolean}`, any of them.
     * @returns {Promise<{ok: true, room: string, settings: RoomSettings}>}
     */
    async roomSettings(room, changes) {
        const ack = await this.#request("room_settings", room, changes);
        if (room === this.#room && "password" in changes) this.#entry.password = changes.password ?? undefined;
        return ack;
    }

    /** The owner removes a member (by id) from the room. */
    removeMember(room, id) {
        return this.#request("remove_member", room, id);
    }

    /** The owner asks a member (by id) to mute. */
    askMute(room, id) {
        return this.#request("ask_mute", room, id);
    }

    /** The owner hands the room over to a member (by id). */
    transferOwner(room, id) {
        return this.#request("transfer_owner", room, id);
    }

    /**
     * Sends a message; resolves with the stored Message. Fails at once when offline, so that a
     * message is never sent twice or long after the user typed it.
     * @param {string} text
     * @param {string} [room] defaults to the room we are in
     * @returns {Promise<Message>}
     */
    async sendMessage(text, room = this.#room ?? "") {
        const ack = await this.#request("new_message", text, room);
        return ack.message;
    }

    /**
     * The owner lets someone waiting in (admit: true) or not; id "*": everyone waiting.
     * @param {string} room
     * @param {string} id
     * @param {boolean} admit
     * @returns {Promise<{ok: true, room: string, admit: boolean, members: string[]}>}
     */
    answerKnock(room, id, admit) {
        return this.#request("knock_answer", room, id, admit);
    }

    /**
     * Sends a direct message to one other member of the room: only the two of us see it. Resolves
     * with the stored Message (its `to` the member). Fails at once when offline, as sendMessage.
     * @param {string} to the member's id
     * @param {string} text
     * @param {string} [room] defaults to the room we are in
     * @returns {Promise<Message>}
     */
    async sendDirect(to, text, room = this.#room ?? "") {
        const ack = await this.#request("direct_message", room, to, text);
        return ack.message;
    }

    /**
     * The room's owner starts recording its call (docs/recording.md); resolves with the recording.
     * @param {string} [room]
     * @returns {Promise<Recording>}
     */
    async startRecording(room = this.#room ?? "") {
        return (await this.#request("start_recording", room)).recording;
    }

    /** The room's owner stops recording its call. @param {string} [room] */
    async stopRecording(room = this.#room ?? "") {
        await this.#request("stop_recording", room);
    }

    /** The recordings of the room this browser made, the newest first. @returns {Promise<RecordingFile[]>} */
    async listRecordings(room = this.#room ?? "") {
        return (await this.#request("list_recordings", room)).recordings;
    }

    /** @param {string} id */
    async deleteRecording(id, room = this.#room ?? "") {
        await this.#request("delete_recording", room, id);
    }

    /** Makes a failed recording's file again. @param {string} id @returns {Promise<RecordingFile>} */
    async retryRecording(id, room = this.#room ?? "") {
        return (await this.#request("retry_recording", room, id)).recording;
    }

    /**
     * Asks to put a file into the room's chat (docs/protocol.md, "Files in the chat"): resolves with
     * where and how to PUT its bytes (`url`, `ticket`) and the name it will show under.
     * @param {string} name
     * @param {number} size in bytes
     * @param {string} [room] defaults to the room we are in
     * @returns {Promise<Upload>}
     */
    async requestUpload(name, size, room = this.#room ?? "") {
        const ack = await this.#request("upload_file", room, { name, size });
        return ack.upload;
    }

    /**
     * Leaves a room. Offline, the server has already dropped us, so this only forgets the room.
     * @param {string} [room]
     */
    async leaveRoom(room = this.#room ?? "") {
        if (room === this.#room) this.#outOfRoom();
        if (room === this.#call?.room) this.#call = null; // leaving the room leaves its call
        if (!this.socket.connected) return { ok: true, room };
        return this.#request("leave_room", room);
    }

    /** The call we are in, if any. */
    get call() { return this.#call; }

    /**
     * Joins the room's call (entering the room too if needed). Rejects with call_full when the call
     * has no room for us; we stay in the chat then.
     * @param {string} room
     * @param {MediaState} media what we start with
     * @returns {Promise<JoinAck>}
     */
    async joinCall(room, media) {
        // sfu: we speak the SFU events (docs/protocol.md, "Calls through the SFU")
        const ack = await this.#requestOnceConnected("join_room", room, { media, sfu: true });
        this.#call = { room: ack.room, media: { ...media } };
        this.#inRoom(ack);
        return ack;
    }

    /**
     * Fresh TURN credentials for the call we are in, before ours expire.
     * @returns {Promise<IceAck>}
     */
    async renewIceServers() {
        if (!this.#call) throw new ProtocolError("not_in_call", "Not in a call.");
        return this.#request("ice_servers", this.#call.room);
    }

    /** Leaves the call and stays in the room's chat. */
    async leaveCall() {
        const call = this.#call;
        this.#call = null;
        const you = this.#you?.id;
        if (call && you) this.#dropCaller(you); // the server tells only the others
        if (!call || !this.socket.connected) return;
        await this.#request("leave_call", call.room);
    }

    /**
     * Tells the others what we send. Offline, it is only remembered: the re-join carries it.
     * @param {MediaState} media
     */
    sendMediaState(media) {
        if (!this.#call) return;
        this.#call.media = { ...media };
        // With an ack callback the server answers a refusal there instead of an `error` event: a
        // state sent just as we left the call is no news for the person.
        if (this.socket.connected) this.socket.emit("media_state", this.#call.room, media, ignoreAck);
    }

    /**
     * A reaction to everyone in our call (one of the page configuration's `reactions`).
     * @param {string} emoji
     * @returns {Promise<{room: string, emoji: string}>}
     */
    async sendReaction(emoji) {
        if (!this.#call) throw new ProtocolError("not_in_call", "You are not in a call.");
        return this.#request("reaction", this.#call.room, emoji);
    }

    /**
     * Raises (true) or lowers (false) our hand in our call.
     * @param {boolean} raised
     * @returns {Promise<{room: string, hand: number | null}>}
     */
    async raiseHand(raised) {
        if (!this.#call) throw new ProtocolError("not_in_call", "You are not in a call.");
        return this.#request("raise_hand", this.#call.room, raised);
    }

    /**
     * The owner lowers someone's hand.
     * @param {string} room
     * @param {string} id
     */
    async lowerHand(room, id) {
        return this.#request("lower_hand", room, id);
    }

    /**
     * Signaling messages to one peer of our call. Fire and forget: a lost message is repaired by an
     * ICE restart or, after a reconnect, by a new connection.
     * @param {"offer" | "answer" | "ice"} event
     * @param {RTCSessionDescriptionInit | RTCIceCandidateInit | null} payload
     * @param {string} toId
     */
    signal(event, payload, toId) {
        if (!this.#call || !this.socket.connected) return;
        // Refusals come back in the ack and are dropped: a candidate for someone who just left
        // (unknown_peer) is expected, and the page hears of their leaving from peer_left.
        this.socket.emit(event, payload, this.#call.room, toId, ignoreAck);
    }

    /**
     * An SFU event of our call (sfu_publish, sfu_answer, ...): `request` without the room, which
     * is added. Rejects with the server's refusal.
     * @param {string} event
     * @param {object} request
     * @returns {Promise<any>}
     */
    sfu(event, request) {
        if (!this.#call) return Promise.reject(new ProtocolError("not_in_call", "Not in a call."));
        return this.#request(event, { room: this.#call.room, ...request });
    }

    /** @returns {Promise<RoomSummary[]>} */
    async listRooms() {
        const ack = await this.#requestOnceConnected("list_rooms");
        return ack.rooms;
    }

    #listen() {
        const socket = this.socket;
        socket.on("connect", () => this.#connected());
        socket.on("disconnect", (reason) => {
            // "io client disconnect" is our own close(); "io server disconnect" is the server (an
            // operator, from the admin UI) putting us out: socket.io does not reconnect after either.
            // Anything else reconnects by itself.
            if (reason === "io server disconnect") this.#setStatus("disconnected");
            else if (reason !== "io client disconnect") this.#setStatus("reconnecting");
        });
        socket.on("connect_error", () => {
            if (!socket.active) this.#setStatus("disconnected");
            else this.#setStatus(this.#everConnected ? "reconnecting" : "connecting");
        });
        socket.on("welcome", (nickname, count, info) => {
            const entered = presence(nickname, count, info, this.#room);
            if (entered.call && entered.room === this.#room) this.#setCaller(entered.member);
            this.dispatch("welcome", entered);
            if (info?.call && info.peer && this.#call && entered.room === this.#call.room) {
                this.dispatch("callwelcome", { room: entered.room, peer: info.peer });
            }
        });
        for (const event of /** @type {const} */ (["offer", "answer", "ice"])) {
            socket.on(event, (payload, fromId, info) => {
                if (!this.#call || typeof fromId !== "string") return; // a classic 1:1 message: not ours
                /** @type {Sender} */
                const sender = { room: info?.room ?? this.#call.room, from: fromId, member: info?.from ?? null };
                if (sender.room !== this.#call.room) return;
                if (event === "ice") this.dispatch("ice", { candidate: payload ?? null, sender });
                else this.dispatch(event, { description: payload, sender });
            });
        }
        socket.on("media_state", (info) => {
            if (this.#call && info?.room === this.#call.room) this.dispatch("mediastate", info);
        });
        socket.on("hand", (info) => {
            if (!info || info.room !== this.#room || typeof info.id !== "string") return;
            if (typeof info.hand === "number") this.#hands.set(info.id, info.hand);
            else this.#hands.delete(info.id);
            this.#handsChanged({ changed: info.id, by: info.by ?? null });
        });
        socket.on("recording", (info) => {
            if (info?.room === this.#room) this.dispatch("recording", info);
        });
        socket.on("recording_file", (info) => {
            if (info?.room === this.#room) this.dispatch("recordingfile", info);
        });
        socket.on("reaction", (info) => {
            if (this.#call && info?.room === this.#call.room && typeof info.emoji === "string") this.dispatch("reaction", info);
        });
        socket.on("peer_left", (info) => {
            if (info?.room === this.#room) this.#dropCaller(info.id);
            if (this.#call && info?.room === this.#call.room) this.dispatch("peerleft", info);
        });
        socket.on("bye", (nickname, count, info) => {
            const left = presence(nickname, count, info, this.#room);
            if (left.room === this.#room) this.#dropCaller(left.member.id);
            this.dispatch("bye", left);
        });
        socket.on("new_message", (line, message) => {
            if (message) this.dispatch("message", message);
        });
        socket.on("direct_message", (message) => {
            if (message?.to) this.dispatch("direct", message);
        });
        socket.on("room_change", (names, rooms) => {
            this.dispatch("rooms", rooms ?? names.map((/** @type {string} */ name) => ({ name, count: 0 })));
        });
        socket.on("nickname_change", (info) => {
            if (this.#you && info.member.id === this.#you.id) this.#you = info.member;
            if (this.#callers.has(info.member.id)) this.#setCaller(info.member);
            this.dispatch("nickname", info);
        });
        socket.on("error", (error) => {
            this.dispatch("error", new ProtocolError(error?.code ?? "unknown", error?.message ?? "", error?.event));
        });
        socket.on("room_update", (update) => {
            if (update?.room === this.#room && this.#room !== null) this.#entry.private = Boolean(update.private);
            this.dispatch("roomupdate", update);
        });
        socket.on("removed", (info) => {
            if (info?.room === this.#room) this.#outOfRoom(); // removed: a reconnect must not put us back
            this.dispatch("removed", info);
        });
        socket.on("mute_request", (info) => this.dispatch("muterequest", info));
        socket.on("knock", (info) => this.dispatch("knock", info));
        socket.on("admitted", (info) => this.dispatch("admitted", info));
        socket.on("declined", (info) => this.dispatch("declined", info));
        socket.on("call_mode", (info) => {
            if (this.#call && info?.room === this.#call.room) this.dispatch("callmode", info);
        });
        socket.on("sfu_offer", (info) => {
            if (this.#call && info?.room === this.#call.room) this.dispatch("sfuoffer", info);
        });
        socket.on("sfu_send", (info) => {
            if (this.#call && info?.room === this.#call.room) this.dispatch("sfusend", info);
        });
        socket.on("server_shutdown", (info) => {
            this.#shutdown = true;
            this.dispatch("shutdown", { message: info?.message ?? "" });
            this.#setStatus("reconnecting");
        });
    }

    /** On every (re)connect: tell the server our name again and go back into our room. */
    async #connected() {
        const rejoining = this.#everConnected;
        this.#everConnected = true;
        // The browser id this connection holds (the one we sent, or a new one): kept for the next.
        // Not awaited: a server without the event answers unknown_event, and nothing depends on it.
        this.#request("browser_id").then((ack) => saveBrowserId(ack.browserId), () => {});
        try {
            if (this.#nickname !== null) await this.#request("nickname", this.#nickname);
            if (this.#room !== null) {
                const ack = await this.#reenter(rejoining);
                if (ack) {
                    this.#inRoom(ack);
                    if (rejoining) this.dispatch("rejoin", ack);
                }
            }
            if (rejoining && this.#call) await this.#rejoinCall(this.#call);
        } catch (error) {
            if (!this.socket.connected) return; // lost again: the next connect tries again
            this.dispatch("error", asProtocolError(error));
        }
        this.#shutdown = false;
        this.#setStatus("connected");
        const waiting = this.#waitingForConnection.splice(0);
        for (const resolve of waiting) resolve();
    }

    /** Back into our room; null when the room refuses us (then we are out of it and its call). */
    async #reenter(rejoining) {
        try {
            return await this.#request("enter_room", entryArgument(this.#room ?? "", this.#entry));
        } catch (error) {
            const refusal = asProtocolError(error);
            if (!rejoining || !this.#entryRefusals.has(refusal.code ?? "")) throw error;
            const call = this.#call;
            this.#outOfRoom();
            this.#call = null;
            if (call) this.dispatch("callrejoinfailed", refusal);
            this.dispatch("rejoinrefused", refusal);
            return null;
        }
    }

    /** Back into the call we were in, with the media we had; the page builds new peer connections. */
    async #rejoinCall(call) {
        try {
            const ack = await this.#request("join_room", call.room, { media: call.media, sfu: true });
            this.#inRoom(ack);
            this.dispatch("callrejoin", ack);
        } catch (error) {
            if (!this.socket.connected) throw error;
            this.#call = null;
            this.dispatch("callrejoinfailed", asProtocolError(error));
        }
    }

    /** In the room (entered, joined its call, or back after a reconnect): it, us and its call, from the ack. */
    #inRoom(ack) {
        this.#room = ack.room;
        this.#you = ack.you;
        // Who is in the call: the ids in `inCall`, named in `members`.
        const members = new Map(ack.members.map((member) => [member.id, member]));
        this.#callers = new Map((ack.inCall ?? []).filter((id) => members.has(id)).map((id) => [id, members.get(id)]));
        this.#maxCallSize = ack.maxCallSize ?? this.#maxCallSize;
        this.#callersChanged();
        this.#hands = new Map((ack.hands ?? []).map(({ id, hand }) => [id, hand]));
        this.#handsChanged();
    }

    /** Out of the room (left, removed, or refused on the way back): nothing of it is ours any more. */
    #outOfRoom() {
        this.#room = null;
        this.#you = null;
        this.#entry = {};
        this.#callers = new Map();
        this.#callersChanged();
        this.#hands = new Map();
        this.#handsChanged();
    }

    /** @param {Member} member */
    #setCaller(member) {
        this.#callers.set(member.id, member);
        this.#callersChanged();
    }

    #dropCaller(id) {
        if (this.#callers.delete(id)) this.#callersChanged();
        if (this.#hands.delete(id)) this.#handsChanged({ changed: id });
    }

    /** @param {{changed?: string, by?: Member | null}} [change] */
    #handsChanged(change = {}) {
        this.dispatch("hands", { hands: this.hands, ...change });
    }

    #callersChanged() {
        this.dispatch("callers", { callers: this.callers, max: this.#maxCallSize });
    }

    /** @returns {Promise<void>} */
    #whenConnected() {
        if (this.#status === "connected") return Promise.resolve();
        return new Promise((resolve) => this.#waitingForConnection.push(resolve));
    }

    /** A request that waits for the connection, and is asked again if the connection drops meanwhile. */
    async #requestOnceConnected(event, ...args) {
        for (let retry = false; ; retry = true) {
            // Connected: sent now, in the caller's task (a click's request leaves before its other work).
            if (retry || this.#status !== "connected") await this.#whenConnected();
            try {
                return await this.#request(event, ...args);
            } catch (error) {
                if (this.socket.connected || !["offline", "disconnected"].includes(error.code)) throw error;
            }
        }
    }

    /** Emits an event with an ack; resolves with the Ok ack, rejects with a ProtocolError. */
    async #request(event, ...args) {
        if (!this.socket.connected) throw new ProtocolError("offline", "Not connected to the server.");
        let ack;
        try {
            ack = await this.socket.timeout(this.timeout).emitWithAck(event, ...args);
        } catch (error) {
            if (!this.socket.connected) throw new ProtocolError("disconnected", String(error?.message ?? error));
            throw new ProtocolError("timeout", `No answer to "${event}" within ${this.timeout} ms.`);
        }
        if (!ack || ack.ok !== true) {
            const error = ack?.error ?? {};
            throw new ProtocolError(error.code ?? "unknown", error.message ?? "The server refused the request.", event);
        }
        return ack;
    }

    /** @param {Status} status */
    #setStatus(status) {
        if (status === this.#status && this.#shutdown === this.#shutdownShown) return;
        this.#status = status;
        this.#shutdownShown = this.#shutdown;
        this.dispatch("status", { status, shutdown: this.#shutdown });
    }
}

/** @returns {Presence} */
function presence(nickname, count, info, room) {
    return {
        room: info?.room ?? room ?? "",
        member: info?.member ?? { id: "", nickname: String(nickname) },
        count: Number(count),
        call: Boolean(info?.call),
    };
}

function ignoreAck() {}

/**
 * enter_room's argument: the seed's plain room name, or `{payload, password?, private?}`.
 * @param {string} room
 * @param {{password?: string, private?: boolean}} [options]
 */
function entryArgument(room, { password, private: unlisted } = {}) {
    if (!password && !unlisted) return room;
    /** @type {{payload: string, password?: string, private?: boolean}} */
    const argument = { payload: room };
    if (password) argument.password = password;
    if (unlisted) argument.private = true;
    return argument;
}

function asProtocolError(error) {
    if (error instanceof ProtocolError) return error;
    return new ProtocolError("unknown", String(error?.message ?? error));
}
