"""Recordings of calls: Janus's per-stream files made into one file people can play (docs/recording.md)."""
