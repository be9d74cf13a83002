"""The Engine.IO server both paths run on (--fast-path on and off): python-engineio's, with the
limits videochat keeps on every path, through the library's public extension points."""
