"""The siege: every attack of tests/attacks/siege_attacks.py at once, from many loopback addresses,
against a fresh server with its default limits, while a well-behaved pair keeps chatting.

Afterwards: the pair saw every message of the other, in order, and nothing else of anyone's; the
server's memory and descriptors came back near where they started; its log has no traceback or
error; and each attack's own checks held. A failure reports all of it, attack by attack.
Run alone: `bash scripts/test tests/attacks` (docs/security.md, "Attack suite").
"""

from __future__ import annotations

import asyncio
import os
import re

import siege_attacks  # noqa: F401 - registers the attacks
from siege import ATTACKS, Pair, Siege
from support import ProcessProbe, Recorder, eventually

DURATION = 25.0  # seconds of attack; the whole test stays under a minute
# what the server may keep after the siege, over its start (a noisy, shared 2-core machine:
# allocator caches, the history database's pages, lazily imported modules)
RSS_TOLERANCE = 64 << 20
FD_TOLERANCE = 12
SETTLE_TIMEOUT = 15.0


def chosen_attacks():
    """All attacks, or those named in SIEGE_ONLY (comma-separated parts of their names), to look
    into one: `SIEGE_ONLY="room flood,liveness" bash scripts/test tests/attacks/test_siege.py`."""
    only = [part.strip() for part in os.environ.get("SIEGE_ONLY", "").split(",") if part.strip()]
    return [a for a in ATTACKS if not only or any(part in a.name for part in only)]


def log_failures(log: str) -> list[str]:
    """The log's ERROR/CRITICAL lines and tracebacks, each once with how often, a traceback by its
    exception (RecursionError: deeply nested JSON), so that the report says what failed."""
    counts: dict[str, int] = {}
    lines = log.splitlines()
    for index, line in enumerate(lines):
        if re.match(r"\S+ \S+ (ERROR|CRITICAL)\s", line):
            key = re.sub(r"^\S+ \S+ ", "", line)[:200]
        elif line.startswith("Traceback"):
            ending = next((later for later in lines[index + 1 :] if later and not later.startswith(" ")), "?")
            key = f"Traceback ... {ending[:200]}"
        else:
            continue
        counts[key] = counts.get(key, 0) + 1
    return [f"  {count} x {key}" for key, count in counts.items()]


async def warm_up(server) -> None:
    """What the server keeps for good once it has done it once, done before its start is measured:
    password checks in every worker thread at once (scrypt takes 16 MiB each, and the allocator keeps
    a thread's arena), a room list, a history write. One guess per connection (one at a time is
    all a connection may have), from addresses the siege does not use."""
    owner = Recorder(server.url, source="127.0.0.250")
    guessers = [Recorder(server.url, source="127.0.0.251") for _ in range(6)]
    try:
        await owner.connect()
        assert (await owner.call("enter_room", "siege-warm-up"))["ok"]
        assert (await owner.call("new_message", "warming up", "siege-warm-up"))["ok"]
        assert (await owner.call("room_settings", "siege-warm-up", {"password": "warm"}))["ok"]
        for guesser in guessers:
            await guesser.connect()
        replies = await asyncio.gather(
            *(
                guesser.call("enter_room", {"payload": "siege-warm-up", "password": f"{n}"})
                for n, guesser in enumerate(guessers)
            )
        )
        assert not any(r["ok"] for r in replies), replies
    finally:
        for client in (owner, *guessers):
            await client.disconnect()


async def test_siege_leaves_the_well_behaved_served_and_the_server_as_it_was(siege_server):
    server = siege_server
    probe = ProcessProbe(server.process.pid)
    pair = Pair(server.url)
    await pair.start()
    await warm_up(server)
    rss_start, fds_start = probe.rss_bytes(), probe.open_fds()
    siege = Siege(server, duration=DURATION, pair=pair)
    peaks = {"rss": rss_start, "fds": fds_start}

    async def sample() -> None:
        while siege.running():
            peaks["rss"] = max(peaks["rss"], probe.rss_bytes())
            peaks["fds"] = max(peaks["fds"], probe.open_fds())
            await asyncio.sleep(0.5)  # a sampling period

    siege.start_clock()
    chat = asyncio.create_task(pair.chat(siege.running))
    sampler = asyncio.create_task(sample())
    try:
        outcomes = await siege.run(chosen_attacks())
        await chat
        await sampler
        await pair.settle()
    finally:
        await siege.close()
    pair_problems = pair.check(siege.private_rooms)

    # which attacks make each resource grow, when they are not held (their own outcomes say more)
    checks = {
        "resident memory": (
            lambda: probe.rss_bytes() <= rss_start + RSS_TOLERANCE,
            lambda: (
                f"{probe.rss_bytes() >> 20} MiB after the siege, {rss_start >> 20} at the start "
                f"(tolerance {RSS_TOLERANCE >> 20}, peak {peaks['rss'] >> 20}); suspects: binary "
                "attachments (2), never-reading poller (8), room flood (3)"
            ),
        ),
        "open descriptors": (
            lambda: probe.open_fds() <= fds_start + FD_TOLERANCE,
            lambda: (
                f"{probe.open_fds()} after the siege, {fds_start} at the start (tolerance "
                f"{FD_TOLERANCE}, peak {peaks['fds']}); suspects: oversize POSTs (6), half-sent "
                "requests (7)"
            ),
        ),
        "no socket in CLOSE-WAIT": (
            lambda: probe.tcp_states().get("CLOSE_WAIT", 0) == 0,
            lambda: (
                f"{probe.tcp_states()} (the client closed, the server never did); "
                "suspect: oversize long-polling POSTs (6)"
            ),
        ),
    }
    try:
        await eventually(lambda: all(ok() for ok, _ in checks.values()), SETTLE_TIMEOUT, "resources back")
    except AssertionError:
        pass
    resources = [f"{what} did not come back: {why()}" for what, (ok, why) in checks.items() if not ok()]
    rss_end, fds_end = probe.rss_bytes(), probe.open_fds()

    await pair.alice.disconnect()
    await pair.bob.disconnect()
    log_errors = log_failures(server.log)

    failed = [o for o in outcomes if o.failures]
    report = "\n".join(
        [
            f"siege of {DURATION:.0f} s, {len(outcomes)} attacks, {sum(o.actions for o in outcomes)} actions; "
            f"pair sent {len(pair.sent['alice'])} + {len(pair.sent['bob'])} messages, slowest ack {pair.slowest_ack:.2f} s",
            f"server RSS {rss_start / 2**20:.0f} -> peak {peaks['rss'] / 2**20:.0f} -> {rss_end / 2**20:.0f} MiB; "
            f"fds {fds_start} -> peak {peaks['fds']} -> {fds_end}",
            "",
            "ATTACKS:",
            *[o.line() for o in outcomes],
            "",
            "THE WELL-BEHAVED PAIR:",
            *(pair_problems or ["  every message arrived in order; nothing else reached them"]),
            "",
            "RESOURCES:",
            *(resources or ["  memory, descriptors and sockets came back"]),
            "",
            "SERVER LOG:",
            *(log_errors[:15] or ["  no traceback, no error"]),
        ]
    )
    print(report)
    assert not (failed or pair_problems or resources or log_errors), (
        f"the siege broke {', '.join(o.name + ' (' + o.section + ')' for o in failed) or 'no attack'}"
        f"{'; the pair' if pair_problems else ''}{'; resources' if resources else ''}"
        f"{'; the log' if log_errors else ''}\n{report}"
    )
