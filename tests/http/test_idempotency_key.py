"""The Idempotency-Key header: 1 to 255 printable ASCII characters, else 400 `idempotency_key_required` with a
message that says so, on the routes that require a key and on those where it is optional."""

from __future__ import annotations

import string
from typing import Any

import httpx
import pytest

from tests.http.conftest import Account, Api
from tests.http.test_catalog_api import ADMIN_EVENTS, football_body

ADJUST = "/api/v1/admin/adjustments"
PRINTABLE_ASCII = "".join(chr(c) for c in range(0x20, 0x7F))


async def _adjust(api: Api, staff: Account, player: Account, key: bytes | None) -> httpx.Response:
    headers = {name.encode(): value.encode() for name, value in staff.headers.items()}
    if key is not None:
        headers[b"Idempotency-Key"] = key
    body = {"player_id": str(player.id), "amount": 100, "reason": "goodwill"}
    return await api.client.post(ADJUST, json=body, headers=headers)


def _refused(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == "idempotency_key_required"
    message: str = error["message"]
    return message


# Header values reach the app as bytes read as Latin-1: "é" in UTF-8 is "Ã©", two printable characters.
NON_ASCII_KEYS = [
    "clé".encode(),
    "clé".encode("latin-1"),
    "ключ-№1".encode(),
    "key\u00a0one".encode("latin-1"),  # a no-break space
    b"\xff" * 10,
]


@pytest.mark.parametrize("key", NON_ASCII_KEYS)
async def test_a_key_beyond_printable_ascii_is_refused_and_moves_no_money(api: Api, key: bytes) -> None:
    player = await api.new_player()
    staff = await api.new_staff("payments")
    assert "printable ASCII" in _refused(await _adjust(api, staff, player, key))
    assert (await api.client.get("/api/v1/wallet", headers=player.headers)).json()["cash"] == 0


@pytest.mark.parametrize("key", NON_ASCII_KEYS)
async def test_an_optional_key_beyond_printable_ascii_is_refused_and_creates_nothing(api: Api, key: bytes) -> None:
    trader = await api.new_staff("trader")
    headers = {**{k.encode(): v.encode() for k, v in trader.headers.items()}, b"Idempotency-Key": key}
    _refused(await api.client.post(ADMIN_EVENTS, json=football_body(), headers=headers))
    assert (await api.client.get("/api/v1/events")).json()["items"] == []


async def test_the_refusal_states_the_rule_that_is_applied(api: Api) -> None:
    player = await api.new_player()
    staff = await api.new_staff("payments")
    for key in [None, b"", b"x" * 256, b"tab\there", b"del\x7f", "é".encode()]:
        message = _refused(await _adjust(api, staff, player, key))
        assert "1 to 255 printable ASCII characters" in message, key


@pytest.mark.parametrize("key", [PRINTABLE_ASCII, "k", "~" * 255, "a b", string.ascii_letters + string.digits])
async def test_every_printable_ascii_key_of_1_to_255_characters_is_taken(api: Api, key: str) -> None:
    player = await api.new_player()
    staff = await api.new_staff("payments")
    first = await _adjust(api, staff, player, key.encode())
    again = await _adjust(api, staff, player, key.encode())
    assert (first.status_code, again.status_code) == (201, 201), first.text
    assert first.json() == again.json()
    assert (await api.client.get("/api/v1/wallet", headers=player.headers)).json()["cash"] == 100
