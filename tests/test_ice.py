"""ICE settings and the ICE server list (pure: no server needed; coturn itself is in test_turn.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import pytest

from videochat.events.ice import IceServers
from videochat.settings import Settings, SettingsError


def test_no_ice_servers_unless_configured():
    assert IceServers.from_settings(Settings()).as_dict() == {
        "iceServers": [],
        "iceTransportPolicy": "all",
        "iceTtl": None,
    }


def test_credentials_are_short_lived_by_default_and_say_when_to_renew():
    settings = Settings(turn_urls="turn:t:3478", turn_secret="s3cret").validate()
    ice = IceServers.from_settings(settings).as_dict("sid")
    assert ice["iceTtl"] == 600  # ten minutes (it was a day): pages renew theirs half way
    (entry,) = ice["iceServers"]
    assert entry["username"].endswith(":sid") and entry["credential"]
    # without a secret there are no credentials, so nothing to renew
    plain = Settings(turn_urls="turn:t:3478").validate()
    assert IceServers.from_settings(plain).as_dict("sid")["iceTtl"] is None


def test_stun_and_turn_without_a_secret_carry_no_credentials():
    settings = Settings(stun_urls="stun:a:3478, stun:b:3478", turn_urls="turn:t:3478?transport=udp").validate()
    assert IceServers.from_settings(settings).servers() == [
        {"urls": ["stun:a:3478", "stun:b:3478"]},
        {"urls": ["turn:t:3478?transport=udp"]},
    ]


def test_turn_credentials_follow_the_rest_api(tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("  s3cret\n")
    settings = Settings(turn_urls="turn:t:3478", turn_secret_file=secret_file, turn_ttl=600).validate()
    (entry,) = IceServers.from_settings(settings).servers("sid:with:colons", now=1_000_000)
    assert entry["username"] == "1000600:sidwithcolons"
    expected = base64.b64encode(hmac.new(b"s3cret", b"1000600:sidwithcolons", hashlib.sha1).digest()).decode()
    assert entry["credential"] == expected


def test_the_secret_stays_out_of_reprs():
    settings = Settings(turn_urls="turn:t:3478", turn_secret="hunter2").validate()
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in repr(IceServers.from_settings(settings))


@pytest.mark.parametrize(
    "options, complaint",
    [
        ({"stun_urls": "http://x"}, "stun-urls"),
        ({"turn_urls": "stun:x"}, "turn-urls"),
        ({"ice_transport_policy": "relay"}, "needs TURN servers"),
        ({"ice_transport_policy": "some"}, "all or relay"),
        ({"turn_secret": "a", "turn_secret_file": "x"}, "not both"),
        ({"turn_secret_file": "/nonexistent/secret"}, "not found"),
        ({"max_call_size": 0}, "max-call-size"),
        ({"upload_budget_kbps": 0}, "upload-budget-kbps"),
        ({"turn_ttl": 0}, "turn-ttl"),
    ],
)
def test_call_settings_that_cannot_work_are_refused(options, complaint):
    if "turn_secret_file" in options:
        options = {**options, "turn_secret_file": Path(options["turn_secret_file"])}
    with pytest.raises(SettingsError, match=complaint):
        Settings(**options).validate()
