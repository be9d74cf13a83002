"""Several processes as one, on Redis: the room model and access state kept in step."""
