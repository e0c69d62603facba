"""The back office in Chromium: a trader suspends a market and the player watching sees it suspended; a trader
settles a market and watches the job finish; the monitoring page draws the platform's own figures; a player's
login never reaches it."""

from __future__ import annotations

import re
import uuid
from typing import Any

from playwright.sync_api import Browser, Page, expect
from tests.e2e.conftest import Server, Staff, assert_accessible, login, screenshot

from sportsbook.cli import DEMO_ADMIN, DEMO_TRADER


def staff_login(page: Page, email: str, password: str) -> None:
    page.goto("/admin")
    form = page.get_by_role("form", name="Staff login")
    form.get_by_label("Email").fill(email)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("navigation", name="Back office")).to_be_visible()


def open_event(page: Page, event: dict[str, Any]) -> None:
    page.goto(f"/admin/trading/events/{event['id']}")
    expect(page.get_by_role("heading", level=1)).to_have_text(event["name"])


def test_a_trader_suspends_a_market_and_the_player_sees_it_suspended(
    page: Page, browser: Browser, server: Server, staff: Staff
) -> None:
    t = uuid.uuid4().hex[:4].upper()
    event = staff.new_event(f"Eagles {t} v Ravens {t}", live=True)
    player = browser.new_context(base_url=server.url)  # the player's own browser, beside the trader's
    try:
        watcher = player.new_page()
        watcher.goto(f"/events/{event['id']}")
        home = watcher.get_by_role("button", name=re.compile(rf"^Eagles {t}\b"))
        expect(home).to_be_enabled()

        staff_login(page, *DEMO_TRADER)
        open_event(page, event)
        page.get_by_role("button", name="Suspend 1x2").click()
        expect(page.get_by_role("region", name="1x2")).to_contain_text("suspended")

        expect(watcher.get_by_role("region", name="Match result")).to_contain_text("Suspended")
        expect(home).to_be_disabled()
        screenshot(page, "back-office-trading")
        assert_accessible(page)

        page.get_by_role("button", name="Resume 1x2").click()
        expect(home).to_be_enabled()
    finally:
        player.close()


def test_a_trader_settles_a_market_and_sees_its_job_finish(page: Page, staff: Staff) -> None:
    t = uuid.uuid4().hex[:4].upper()
    event = staff.new_event(f"Sharks {t} v Whales {t}")
    staff_login(page, *DEMO_TRADER)
    open_event(page, event)
    page.get_by_text("Settle total 2.5 by hand").click()
    page.get_by_label("Result of Over 2.5 (total 2.5)").select_option("won")
    page.get_by_label("Result of Under 2.5 (total 2.5)").select_option("lost")
    page.get_by_role("button", name="Settle total 2.5").click()
    jobs = page.get_by_role("region", name="Settlement jobs")
    expect(jobs.get_by_role("status").first).to_have_text("succeeded", timeout=30_000)
    expect(jobs).to_contain_text("Settled 0 bets")


def test_the_monitoring_page_draws_the_platforms_own_figures(
    page: Page, server: Server, staff: Staff, demo_player: tuple[str, str]
) -> None:
    t = uuid.uuid4().hex[:4].upper()
    event = staff.new_event(f"Otters {t} v Seals {t}")
    home = event["markets"][0]["selections"][0]
    staff_login(page, *DEMO_ADMIN)
    page.goto("/admin/monitoring")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Monitoring")
    with server.client(login(server, *demo_player)) as player:
        for n in range(3):  # a few bets while the page samples: its counters move
            body = {"type": "single", "legs": [{"selection_id": home["id"], "odds": home["odds"]}], "stake": 100}
            answer = player.post("/api/v1/bets", json=body, headers={"Idempotency-Key": f"monitor-{t}-{n}"})
            assert answer.status_code == 201, answer.text
    card = page.locator("section, div, article").filter(has_text=re.compile("^Bets per second")).last
    expect(card).to_contain_text(re.compile(r"[1-9]\d* since start"), timeout=10_000)
    screenshot(page, "back-office-monitoring")
    assert_accessible(page)


def test_a_players_login_does_not_open_the_back_office(page: Page, demo_player: tuple[str, str]) -> None:
    page.goto("/admin")
    form = page.get_by_role("form", name="Staff login")
    form.get_by_label("Email").fill(demo_player[0])
    form.get_by_label("Password").fill(demo_player[1])
    form.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_role("navigation", name="Back office")).to_have_count(0)
