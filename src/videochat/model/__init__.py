"""The room model and the rules: pure state and checks, no I/O, no Socket.IO."""
