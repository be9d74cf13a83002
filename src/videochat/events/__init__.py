"""The Socket.IO server and its event handlers: chat, calls, moderation, ICE."""
