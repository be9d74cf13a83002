"""A call that outlasts its TURN credentials (docs/security.md, "TURN credentials"): the page renews them half way
through --turn-ttl (`ice_servers`), and an ICE restart after the first ones expired makes new relay
allocations with the fresh ones."""

from __future__ import annotations

import asyncio

from call_actions import (
    LINKS,
    enter_and_join_call,
    open_call_page,
    selected_candidate_types,
    wait_for_async,
    wait_media_flows,
    wait_remote_videos_play,
)

TTL = 8
USERNAMES = f"() => {LINKS}.map((pc) => pc.getConfiguration().iceServers.find((s) => s.username).username)"
# the relayed address:port of the local candidate in use on each connected link
RELAYS_IN_USE = f"""async () => {{
    const relays = [];
    for (const pc of {LINKS}.filter((pc) => pc.connectionState === "connected")) {{
        const stats = await pc.getStats();
        stats.forEach((r) => {{
            if (r.type !== "transport" || !r.selectedCandidatePairId) return;
            const local = stats.get(stats.get(r.selectedCandidatePairId).localCandidateId);
            relays.push(`${{local.address}}:${{local.port}}`);
        }});
    }}
    return relays;
}}"""


async def test_a_call_renews_its_turn_credentials_and_restarts_ice_after_they_expired(
    turn_server, server_factory, new_user, room_name, room_url
):
    server = await asyncio.to_thread(
        server_factory,
        *turn_server.videochat_args(),
        "--ice-transport-policy",
        "relay",
        "--turn-ttl",
        str(TTL),
        env=turn_server.videochat_env(),
    )
    url = room_url(server.url, room_name)
    alice = await open_call_page(new_user, "Alice")
    bob = await open_call_page(new_user, "Bob")
    await enter_and_join_call(alice, url, "Alice")
    await enter_and_join_call(bob, url, "Bob")
    for page in (alice, bob):
        await wait_remote_videos_play(page, 1)
        await wait_media_flows(page, 1)
        assert await selected_candidate_types(page) == ["relay"]
    first = {page: (await page.evaluate(USERNAMES))[0] for page in (alice, bob)}
    expiry = max(int(username.split(":")[0]) for username in first.values())

    # half way (TTL / 2 s), each page asks for fresh credentials and gives them to its connection
    for page in (alice, bob):
        await page.wait_for_function(
            f"(first) => {{ const u = ({USERNAMES})(); return u.length === 1 && u[0] !== first; }}",
            arg=first[page],
            timeout=TTL * 1000 * 2,
        )
    # the first credentials expire; the call goes on meanwhile (a made allocation is not cut)
    await alice.wait_for_function("(expiry) => Date.now() / 1000 > expiry + 1", arg=expiry, timeout=TTL * 1000 * 2)
    for page in (alice, bob):
        await wait_media_flows(page, 1)

    # an ICE restart now needs new allocations: they are made with the renewed credentials
    before = await alice.evaluate(RELAYS_IN_USE)
    await alice.evaluate(f"() => {LINKS}.forEach((pc) => pc.restartIce())")
    await wait_for_async(
        alice,
        f"(before) => ({RELAYS_IN_USE})().then((now) => now.length === 1 && now[0] !== before[0])",
        before,
        polling=200,
    )
    for page in (alice, bob):
        await wait_media_flows(page, 1)
        assert await selected_candidate_types(page) == ["relay"]
