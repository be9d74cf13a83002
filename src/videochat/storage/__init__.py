"""Chat history: SQLite for one process, Redis for several, one interface."""
