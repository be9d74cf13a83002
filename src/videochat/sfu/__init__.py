"""The SFU: Janus's VideoRoom plugin, run (local.py) and driven (janus.py, calls.py) by videochat.

Browsers never reach Janus's API: every offer, answer and candidate goes through the Socket.IO
connection (events/sfu.py), and this layer turns them into Janus requests (docs/sfu.md).
"""
