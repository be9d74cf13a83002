"""Everything that reaches into a library's internals (python-socketio, python-engineio, uvicorn,
websockets) to make the hot paths cheap, and nothing else (docs/internals.md)."""
