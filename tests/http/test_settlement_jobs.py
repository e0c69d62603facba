"""Settlement jobs over HTTP: accepted at once with the market closed, run by a worker chunk by chunk, followed
by their id, replayed by their key, resumed after a crash without paying twice, and run in order per market."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from sportsbook.core.errors import DomainError
from tests.http.conftest import Account, Api, open_api
from tests.http.test_bets_api import _bet, _event, _funded_player, _selection, _single, _wallet
from tests.http.test_settlement_api import _bet_status, _reconciled

JOBS = "/api/v1/admin/settlement-jobs"


def _keyed(account: Account, key: str) -> dict[str, str]:
    return {**account.headers, "Idempotency-Key": key}


def _won(selection: dict[str, Any]) -> dict[str, Any]:
    return {"outcomes": [{"selection_id": selection["id"], "result": "won"}]}


async def _home_bets(api: Api, n: int, stake: int = 1_000) -> tuple[dict[str, Any], list[tuple[Account, str]]]:
    event = await _event(api)
    home = _selection(event, "1x2", "home")  # 2.50
    bets = []
    for _ in range(n):
        player = await _funded_player(api, 10_000)
        placed = await _bet(api, player, _single(home, stake))
        assert placed.status_code == 201, placed.text
        bets.append((player, placed.json()["id"]))
    return event, bets


def _one_x_two(event: dict[str, Any]) -> str:
    market_id: str = next(m["id"] for m in event["markets"] if m["type"] == "1x2")
    return market_id


async def test_a_settlement_is_accepted_at_once_closes_the_market_and_a_worker_settles_it(api: Api) -> None:
    event, [(player, bet)] = await _home_bets(api, 1)
    market = _one_x_two(event)
    trader = await api.new_staff("trader")
    home = _selection(event, "1x2", "home")
    accepted = await api.client.post(
        f"/api/v1/admin/markets/{market}/settlement", json=_won(home), headers=_keyed(trader, "settle-1")
    )
    assert accepted.status_code == 202, accepted.text
    job = accepted.json()
    assert accepted.headers["Location"] == f"{JOBS}/{job['id']}"
    assert {k: job[k] for k in ("kind", "market_id", "status", "bets_total", "bets_done", "report", "error")} == {
        "kind": "settle",
        "market_id": market,
        "status": "queued",
        "bets_total": 0,
        "bets_done": 0,
        "report": None,
        "error": None,
    }
    # the market is closed to bets from the moment the job is accepted, before any worker ran it
    late = await _bet(api, await _funded_player(api), _single(home))
    assert (late.status_code, late.json()["error"]["code"]) == (409, "selection_closed")
    assert await _bet_status(api, player, bet) == ("open", None)
    assert (await api.client.get(f"{JOBS}/{job['id']}", headers=trader.headers)).json()["status"] == "queued"

    (ran,) = await api.platform.jobs.run_pending()
    assert ran.id == UUID(job["id"])
    done = (await api.client.get(f"{JOBS}/{job['id']}", headers=trader.headers)).json()
    assert (done["status"], done["bets_total"], done["bets_done"]) == ("succeeded", 1, 1)
    assert done["started_at"] is not None
    assert done["finished_at"] is not None
    assert done["report"] == {
        "settled_bets": 1,
        "reopened_bets": 0,
        "stake": 1_000,
        "return": 2_500,
        "outcomes": {"won": {"bets": 1, "stake": 1_000, "return": 2_500}},
    }
    assert await _bet_status(api, player, bet) == ("won", 2_500)
    assert (await _wallet(api, player))["cash"] == 11_500
    await _reconciled(api)


async def test_a_replayed_key_answers_the_same_job_and_a_reused_one_is_refused(api: Api) -> None:
    event, _bets = await _home_bets(api, 1)
    market = _one_x_two(event)
    trader = await api.new_staff("trader")
    home, away = _selection(event, "1x2", "home"), _selection(event, "1x2", "away")
    path = f"/api/v1/admin/markets/{market}/settlement"
    first = await api.client.post(path, json=_won(home), headers=_keyed(trader, "k1"))
    await api.platform.jobs.run_pending()
    again = await api.client.post(path, json=_won(home), headers=_keyed(trader, "k1"))  # the answer was lost
    assert (again.status_code, again.json(), again.headers["Location"]) == (
        202,
        first.json(),
        first.headers["Location"],
    )
    other = await api.client.post(path, json=_won(away), headers=_keyed(trader, "k1"))
    assert (other.status_code, other.json()["error"]["code"]) == (409, "idempotency_key_reused")
    unkeyed = await api.client.post(path, json=_won(home), headers=trader.headers)
    assert (unkeyed.status_code, unkeyed.json()["error"]["code"]) == (400, "idempotency_key_required")
    listed = (await api.client.get(f"{JOBS}?market_id={market}", headers=trader.headers)).json()
    assert [j["id"] for j in listed["items"]] == [first.json()["id"]]  # one job however often it was asked


async def test_a_refusal_is_answered_at_once_and_replayed_the_same_way(api: Api) -> None:
    event, _bets = await _home_bets(api, 1)
    trader = await api.new_staff("trader")
    path = f"/api/v1/admin/markets/{_one_x_two(event)}/settlement"
    missing = await api.client.delete(path, headers=_keyed(trader, "undo"))
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "settlement_not_found")
    assert "Location" not in missing.headers
    again = await api.client.delete(path, headers=_keyed(trader, "undo"))
    assert (again.status_code, again.json()) == (404, missing.json())
    unknown = await api.client.post(
        "/api/v1/admin/markets/00000000-0000-0000-0000-000000000001/settlement",
        json={"outcomes": []},
        headers=_keyed(trader, "nowhere"),
    )
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "market_not_found")
    assert (await api.client.get(JOBS, headers=trader.headers)).json()["items"] == []  # nothing was queued


async def test_progress_moves_chunk_by_chunk(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async with open_api(sqlite_url, settlement_chunk=2) as api:
        event, bets = await _home_bets(api, 5)
        trader = await api.new_staff("trader")
        home = _selection(event, "1x2", "home")
        job = (
            await api.staff(trader, "POST", f"/api/v1/admin/markets/{_one_x_two(event)}/settlement", _won(home))
        ).jobs
        assert [(j["bets_total"], j["bets_done"], j["status"]) for j in job] == [(5, 5, "succeeded")]

        # again with the progress read between chunks, as staff would follow it
        event, bets = await _home_bets(api, 5)
        home = _selection(event, "1x2", "home")
        seen: list[tuple[int, int, str]] = []
        settlements = api.platform.settlements
        write_chunk = settlements._write_chunk

        async def watched(*args: Any) -> int:
            seen.append(await _progress(api, trader))
            return await write_chunk(*args)

        monkeypatch.setattr(settlements, "_write_chunk", watched)
        answer = await api.staff(trader, "POST", f"/api/v1/admin/markets/{_one_x_two(event)}/settlement", _won(home))
        assert seen == [(5, 0, "running"), (5, 2, "running"), (5, 4, "running")]
        assert answer.report["settled_bets"] == 5
        for player, bet in bets:
            assert await _bet_status(api, player, bet) == ("won", 2_500)


async def _progress(api: Api, trader: Account) -> tuple[int, int, str]:
    (job,) = (await api.client.get(f"{JOBS}?status=running", headers=trader.headers)).json()["items"]
    return job["bets_total"], job["bets_done"], job["status"]


async def test_a_job_that_died_mid_way_resumes_after_its_last_chunk_and_pays_each_bet_once(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_api(database_url, settlement_chunk=2, settlement_lease_s=30) as api:
        event, bets = await _home_bets(api, 5)
        trader = await api.new_staff("trader")
        home = _selection(event, "1x2", "home")
        settlements = api.platform.settlements
        write_chunk = settlements._write_chunk
        writes = 0

        async def dies_on_the_third_chunk(*args: Any) -> int:
            nonlocal writes
            writes += 1
            if writes == 3:
                raise ConnectionResetError("the worker's connection dropped")
            return await write_chunk(*args)

        monkeypatch.setattr(settlements, "_write_chunk", dies_on_the_third_chunk)
        answer = await api.staff(trader, "POST", f"/api/v1/admin/markets/{_one_x_two(event)}/settlement", _won(home))
        (job,) = answer.jobs
        assert (job["status"], job["bets_done"], job["bets_total"]) == ("running", 4, 5)  # two chunks committed
        assert await api.platform.jobs.run_pending() == []  # its lease holds: no worker takes it yet
        monkeypatch.undo()

        api.clock.advance(31)  # the lease lapses: the next worker takes the job over and resumes it
        (resumed,) = await api.platform.jobs.run_pending()
        assert (resumed.status.value, resumed.attempts, resumed.bets_done, resumed.bets_total) == ("succeeded", 2, 5, 5)
        assert resumed.report is not None
        assert resumed.report["settled_bets"] == 5
        for player, bet in bets:
            assert await _bet_status(api, player, bet) == ("won", 2_500)
            assert (await _wallet(api, player))["cash"] == 10_000 - 1_000 + 2_500  # paid once
        await _reconciled(api)


async def test_a_job_the_ledger_refuses_fails_with_the_refusal_and_keeps_what_it_did(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_api(sqlite_url, settlement_chunk=1) as api:
        event, bets = await _home_bets(api, 3)
        trader = await api.new_staff("trader")
        settlements = api.platform.settlements
        apply = settlements._apply
        calls = 0

        async def refused_the_second_time(*args: Any, **kwargs: Any) -> None:
            nonlocal calls
            calls += 1
            if calls == 2:
                raise DomainError("the ledger refused settlement movements: [...]", code="settlement_refused")
            await apply(*args, **kwargs)

        monkeypatch.setattr(settlements, "_apply", refused_the_second_time)
        home = _selection(event, "1x2", "home")
        answer = await api.staff(trader, "POST", f"/api/v1/admin/markets/{_one_x_two(event)}/settlement", _won(home))
        (job,) = answer.jobs
        assert (job["status"], job["report"], job["error"]["code"]) == ("failed", None, "settlement_refused")
        assert (job["bets_done"], job["bets_total"]) == (1, 3)  # the first chunk stands, paid
        statuses = sorted([await _bet_status(api, player, bet) for player, bet in bets], key=str)
        assert statuses == [("open", None), ("open", None), ("won", 2_500)]  # in id order: one, then refused
        failed = (await api.client.get(f"{JOBS}?status=failed", headers=trader.headers)).json()["items"]
        assert [j["id"] for j in failed] == [job["id"]]
        assert await api.platform.jobs.run_pending() == []  # a failed job is not taken up again
        await _reconciled(api)


async def test_a_markets_jobs_run_in_the_order_they_were_accepted(database_url: str) -> None:
    async with open_api(database_url) as api:
        event, [(player, bet)] = await _home_bets(api, 1)
        market = _one_x_two(event)
        trader = await api.new_staff("trader")
        path = f"/api/v1/admin/markets/{market}/settlement"
        home, away = _selection(event, "1x2", "home"), _selection(event, "1x2", "away")
        # settle, roll back, settle another way: all accepted before any worker runs (the clock stands still)
        for i, (method, body) in enumerate([("POST", _won(home)), ("DELETE", None), ("POST", _won(away))]):
            accepted = await api.client.request(method, path, json=body, headers=_keyed(trader, f"order-{i}"))
            assert accepted.status_code == 202, accepted.text
        ran = await api.platform.jobs.run_pending()
        assert [(j.kind.value, j.status.value) for j in ran] == [
            ("settle", "succeeded"),
            ("rollback", "succeeded"),
            ("settle", "succeeded"),
        ]
        # A job walks the bets against the results in force when it runs: the first settles the bet on the
        # results that replaced its own, so the rollback's job finds it decided by them and the last finds it
        # settled. Each bet ends as the last results say, paid once.
        assert [(j.tally.settled, j.tally.reopened) for j in ran] == [(1, 0), (0, 0), (0, 0)]
        assert await _bet_status(api, player, bet) == ("lost", 0)
        assert (await _wallet(api, player))["cash"] == 9_000
        listed = (await api.client.get(f"{JOBS}?market_id={market}", headers=trader.headers)).json()["items"]
        assert [j["kind"] for j in listed] == ["settle", "rollback", "settle"][::-1]  # newest first
        await _reconciled(api)


async def test_jobs_are_listed_newest_first_a_page_at_a_time(api: Api) -> None:
    trader = await api.new_staff("trader")
    ids = []
    for _ in range(3):
        event = await _event(api)
        answer = await api.staff(
            trader, "POST", f"/api/v1/admin/markets/{_one_x_two(event)}/settlement", {"outcomes": []}
        )
        ids.append(answer.jobs[0]["id"])
        api.clock.advance(1)
    first = (await api.client.get(f"{JOBS}?limit=2", headers=trader.headers)).json()
    assert [j["id"] for j in first["items"]] == ids[::-1][:2]
    rest = (await api.client.get(f"{JOBS}?limit=2&cursor={first['next_cursor']}", headers=trader.headers)).json()
    assert ([j["id"] for j in rest["items"]], rest["next_cursor"]) == ([ids[0]], None)
    assert (await api.client.get(f"{JOBS}?status=queued", headers=trader.headers)).json()["items"] == []


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("?cursor=nonsense", 422, "invalid_cursor"),
        ("?cursor=12_zz", 422, "invalid_cursor"),
        ("?status=paused", 422, "invalid_request"),
        ("?market_id=not-a-uuid", 422, "invalid_request"),
        ("?limit=0", 422, "invalid_request"),
        ("/00000000-0000-0000-0000-000000000001", 404, "settlement_job_not_found"),
        ("/not-a-uuid", 422, "invalid_request"),
    ],
)
async def test_bad_job_queries_are_refused_with_their_code(api: Api, query: str, status: int, code: str) -> None:
    trader = await api.new_staff("trader")
    answer = await api.client.get(f"{JOBS}{query}", headers=trader.headers)
    assert (answer.status_code, answer.json()["error"]["code"]) == (status, code)


async def test_only_traders_and_risk_staff_see_jobs_and_only_traders_queue_them(api: Api) -> None:
    event = await _event(api)
    player, support = await api.new_player(), await api.new_staff("support")
    assert (await api.client.get(JOBS, headers=player.headers)).status_code == 403
    assert (await api.client.get(JOBS, headers=support.headers)).status_code == 403
    assert (await api.client.get(JOBS, headers=(await api.new_staff("risk")).headers)).status_code == 200
    risk = await api.new_staff("risk")
    refused = await api.client.post(
        f"/api/v1/admin/markets/{_one_x_two(event)}/settlement", json={"outcomes": []}, headers=_keyed(risk, "r")
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
