"""Both history stores implement storage.base.History: the same methods, the same parameters, the
same coroutines, so that code typed with the interface runs on either."""

from __future__ import annotations

import inspect

import pytest

from videochat.storage.base import History
from videochat.storage.history import HistoryStore
from videochat.storage.redis_history import RedisHistory

METHODS = sorted(
    name for name, value in vars(History).items() if inspect.isfunction(value) and not name.startswith("_")
)


def test_the_interface_names_what_the_server_asks_of_a_history():
    assert {"append", "recent", "holds", "room_emptied", "room_occupied", "expire", "open", "close"} <= set(METHODS)


@pytest.mark.parametrize("store", [HistoryStore, RedisHistory], ids=lambda store: store.__name__)
@pytest.mark.parametrize("name", METHODS)
def test_each_store_implements_the_interface(store, name):
    wanted, found = getattr(History, name), getattr(store, name, None)
    assert found is not None, f"{store.__name__} has no {name}"
    assert inspect.iscoroutinefunction(found) == inspect.iscoroutinefunction(wanted), name
    assert list(inspect.signature(found).parameters) == list(inspect.signature(wanted).parameters), name
