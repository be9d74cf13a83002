"""Whether a call runs peer to peer (a mesh) or through the SFU, and who may join it.

A call starts as a mesh. It moves to the SFU when it reaches `sfu_from` people (or would pass the
mesh cap), the SFU is available, and every participant's client speaks the SFU events; it stays
there until it empties (moving back and forth as people come and go would freeze everyone's video
each time). A client that speaks only the classic events keeps a call a mesh; it cannot join a call
that is on the SFU already. No I/O here: events/ applies the verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass

MESH = "mesh"
SFU = "sfu"


@dataclass(frozen=True)
class JoinVerdict:
    allowed: bool
    code: str = ""  # an error code of model/errors.py when not allowed
    move_to_sfu: bool = False


@dataclass(frozen=True)
class CallPolicy:
    sfu_from: int  # 0: never
    max_call_size: int  # the mesh's cap
    max_sfu_call_size: int

    def join(
        self, mode: str, sizes: tuple[int, int], joiner_sfu: bool, sfu_available: bool, forced: bool = False
    ) -> JoinVerdict:
        """May one more person join? `sizes`: (participants, of which speak the SFU events).
        `forced`: the call goes on the SFU whatever its size (a recorded room); whoever cannot
        is refused."""
        count, capable = sizes
        if forced and sfu_available and mode != SFU:
            if not joiner_sfu or capable < count:
                return JoinVerdict(False, "sfu_required")
            if count >= self.max_sfu_call_size:
                return JoinVerdict(False, "call_full")
            return JoinVerdict(True, move_to_sfu=True)
        if mode == SFU:
            if not joiner_sfu:
                return JoinVerdict(False, "sfu_required")
            if count >= self.max_sfu_call_size:
                return JoinVerdict(False, "call_full")
            return JoinVerdict(True)
        if self.wants_sfu(count + 1, capable + joiner_sfu, sfu_available):
            if count >= self.max_sfu_call_size:
                return JoinVerdict(False, "call_full")
            return JoinVerdict(True, move_to_sfu=True)
        if count >= self.max_call_size:
            return JoinVerdict(False, "call_full")
        return JoinVerdict(True)

    def wants_sfu(self, count: int, capable: int, sfu_available: bool) -> bool:
        """Whether a mesh call of `count` people (`capable` of them speak the SFU events) moves."""
        if self.sfu_from == 0 or not sfu_available or capable < count:
            return False
        return count >= self.sfu_from or count > self.max_call_size

    def fits_mesh(self, count: int) -> bool:
        return count <= self.max_call_size

    def cap(self, sfu_possible: bool) -> int:
        """The most people a call may hold, as the page is told."""
        return self.max_sfu_call_size if sfu_possible and self.sfu_from else self.max_call_size
