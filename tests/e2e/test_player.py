"""The player app in Chromium against a running platform: a new player's whole journey (register, deposit with a
test card, a single and a multiple, the events resulted, the returns in the wallet), the 3-D Secure step, and
live prices that move and markets that a trader suspends."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from playwright.sync_api import Locator, Page, expect
from tests.e2e.conftest import PASSWORD, Server, Staff, assert_accessible, login, screenshot, unique_email


def tag() -> str:
    return uuid.uuid4().hex[:4].upper()


def market_of(event: dict[str, Any], kind: str) -> dict[str, Any]:
    market: dict[str, Any] = next(m for m in event["markets"] if m["type"] == kind)
    return market


def price(page: Page, name: str) -> Locator:
    """The price button of a selection: its accessible name is the selection's name, then its odds."""
    return page.get_by_role("button", name=re.compile(rf"^{re.escape(name)}\b"))


def register(page: Page, email: str) -> None:
    page.goto("/register")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Date of birth").fill("1990-05-17")
    page.get_by_label("Country").select_option("GB")
    page.get_by_label("Currency").select_option("EUR")
    page.get_by_role("button", name="Open account").click()
    expect(page).to_have_url(re.compile(r"/wallet$"))


def deposit(page: Page, amount: str, card: str) -> Locator:
    """Fill and send the wallet's deposit form; the form, to read its answer from."""
    form = page.get_by_role("form", name="Deposit")
    form.get_by_label(re.compile(r"^Amount")).fill(amount)
    form.get_by_label("Card number").fill(card)
    form.get_by_label("Expiry month").select_option("12")
    form.get_by_label("Expiry year").select_option(str(datetime.now(UTC).year + 3))
    form.get_by_label("Security code (CVC)").fill("123")
    form.get_by_label("Name on card").fill("Ada Lovelace")
    form.get_by_role("button", name=re.compile(r"^Deposit")).click()
    return form


def place(page: Page, stake: str) -> None:
    slip = page.get_by_role("complementary", name="Bet slip")
    slip.get_by_label(re.compile(r"^Stake per line")).fill(stake)
    slip.get_by_role("button", name="Place bet").click()
    expect(slip.get_by_role("status")).to_contain_text("Bet placed", timeout=20_000)


def wait_for_jobs(staff: Staff, jobs: list[dict[str, Any]]) -> None:
    for job in jobs:
        for _ in range(200):
            got = staff.call("GET", f"/api/v1/admin/settlement-jobs/{job['id']}")
            if got["status"] in ("succeeded", "failed"):
                assert got["status"] == "succeeded", got
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"job {job['id']} did not finish")


def test_a_new_player_registers_deposits_bets_and_is_paid_when_the_events_are_resulted(
    page: Page, staff: Staff
) -> None:
    t = tag()
    first = staff.new_event(f"Lions {t} v Tigers {t}")
    second = staff.new_event(f"Bears {t} v Wolves {t}")

    register(page, unique_email("journey"))
    assert_accessible(page)

    form = deposit(page, "50", "4242 4242 4242 4242")
    expect(form.get_by_role("status")).to_contain_text(re.compile("€50.00"), timeout=20_000)
    balance = page.get_by_role("region", name=re.compile("balance", re.I))
    expect(balance).to_contain_text("€50.00")

    # a single at 2.50
    page.goto(f"/events/{first['id']}")
    price(page, f"Lions {t}").click()
    place(page, "5")

    # a multiple: both home sides, 2.50 x 2.50
    page.goto(f"/events/{first['id']}")
    price(page, f"Lions {t}").click()
    page.goto(f"/events/{second['id']}")
    price(page, f"Bears {t}").click()
    page.get_by_role("complementary", name="Bet slip").get_by_label("Multiple").check()
    place(page, "2")

    # both home sides win
    for event in (first, second):
        score = {"score": {"home": 2, "away": 0}}
        answer = staff.call("POST", f"/api/v1/admin/events/{event['id']}/result", score, key=True)
        wait_for_jobs(staff, answer["items"])

    # 50 - 5 - 2 + 5 x 2.50 + 2 x 6.25 = 68.00
    page.goto("/wallet")
    expect(page.get_by_role("region", name=re.compile("balance", re.I))).to_contain_text("€68.00", timeout=20_000)
    page.goto("/bets")
    page.get_by_role("tab", name="Settled").click()
    expect(page.get_by_text("€12.50").first).to_be_visible()
    screenshot(page, "player-my-bets")
    assert_accessible(page)


def test_a_deposit_the_issuer_challenges_passes_the_3d_secure_step(page: Page, server: Server) -> None:
    register(page, unique_email("threeds"))
    deposit(page, "20", "4000 0000 0000 3220")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("€20.00")
    assert_accessible(page)
    dialog.get_by_role("button", name=re.compile("confirm", re.I)).click()
    expect(page.get_by_role("region", name=re.compile("balance", re.I))).to_contain_text("€20.00", timeout=20_000)
    screenshot(page, "player-wallet")


def test_a_live_price_change_shows_on_the_event_page(page: Page, staff: Staff) -> None:
    t = tag()
    event = staff.new_event(f"Hawks {t} v Owls {t}", live=True)
    match = market_of(event, "1x2")
    home = match["selections"][0]
    page.goto(f"/events/{event['id']}")
    button = price(page, f"Hawks {t}")
    expect(button).to_contain_text("2.50")
    staff.call("PATCH", f"/api/v1/admin/markets/{match['id']}", {"selections": [{"id": home["id"], "odds": "2.70"}]})
    expect(button).to_contain_text("2.70")
    expect(button).to_have_class(re.compile(r"\bup\b"))
    button.click()  # into the slip, for the picture
    page.get_by_role("complementary", name="Bet slip").get_by_label(re.compile(r"^Stake per line")).fill("10")
    screenshot(page, "player-live-event")
    assert_accessible(page)


def test_a_market_a_trader_suspends_greys_out_for_the_player(page: Page, staff: Staff) -> None:
    t = tag()
    event = staff.new_event(f"Foxes {t} v Crows {t}", live=True)
    match = market_of(event, "1x2")
    page.goto(f"/events/{event['id']}")
    button = price(page, f"Foxes {t}")
    expect(button).to_be_enabled()
    staff.call("PATCH", f"/api/v1/admin/markets/{match['id']}", {"status": "suspended"})
    section = page.get_by_role("region", name="Match result")
    expect(section).to_contain_text("Suspended")
    expect(button).to_be_disabled()
    staff.call("PATCH", f"/api/v1/admin/markets/{match['id']}", {"status": "active"})
    expect(button).to_be_enabled()


def test_the_home_page_shows_the_demos_live_events_their_prices_moving_and_the_odds_formats(page: Page) -> None:
    page.goto("/")
    expect(page.get_by_role("button", name=re.compile(r"\d+\.\d\d$")).first).to_be_visible()
    # the simulated feed moves the live events' prices: some price on the page changes by itself
    page.wait_for_function(
        """(before) => {
            const now = [...document.querySelectorAll("button.price")].map((b) => b.innerText);
            return now.length === before.length && now.some((text, i) => text !== before[i]);
        }""",
        arg=page.locator("button.price").all_inner_texts(),
        timeout=60_000,
    )
    page.get_by_label(re.compile("odds", re.I)).select_option(label="Fractional")
    expect(page.get_by_role("button", name=re.compile(r"\d+\/\d+$")).first).to_be_visible()
    page.get_by_label(re.compile("odds", re.I)).select_option(label="Decimal")
    assert_accessible(page)


def test_the_demo_player_logs_in_and_out(page: Page, demo_player: tuple[str, str], server: Server) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(demo_player[0])
    page.get_by_label("Password").fill(demo_player[1])
    page.get_by_role("button", name=re.compile("log in", re.I)).click()
    expect(page.get_by_role("link", name=re.compile("€"))).to_be_visible()
    assert login(server, *demo_player)
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
