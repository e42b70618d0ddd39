"""The view in a real headless browser (Debian's chromium, driven by Playwright); screenshots of
each page are kept in the test's directory."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Results, row, write_results

pytest.importorskip("playwright.sync_api", reason="the browser tests need playwright (pip)")
from playwright.sync_api import BrowserContext, expect, sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 20_000

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).is_file(), reason="the browser tests need chromium (apt-get install chromium)"
)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[BrowserContext]:
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            args=FLAGS,
            headless=True,
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(WAIT_MS)
        try:
            yield context
        finally:
            context.close()


def test_the_leaderboard_renders_each_agent_with_its_score_and_interval(
    served: str, browser: BrowserContext, tmp_path: Path
) -> None:
    page = browser.new_page()
    page.goto(served)

    table = page.get_by_test_id("leaderboard")
    expect(table.locator("tbody tr")).to_have_count(3)
    first = table.locator("tbody tr").first
    expect(first).to_contain_text("oracle (results-a)")
    expect(first).to_contain_text("100.0% [100.0%, 100.0%]")
    expect(page.locator("figure.plot svg")).to_be_visible()
    page.screenshot(path=tmp_path / "leaderboard.png", full_page=True)


def test_clicking_a_run_in_the_matrix_opens_its_trajectory(
    served: str, browser: BrowserContext, tmp_path: Path
) -> None:
    page = browser.new_page()
    page.goto(served + "matrix?d=0")

    page.get_by_title("Scenario-synth-1 · guesser · r1").click()

    expect(page.locator("h1")).to_have_text("Scenario-synth-1 · guesser · r1")
    steps = page.get_by_test_id("step")
    expect(steps).to_have_count(5)
    expect(steps.nth(1)).to_contain_text("latency 1.25s")
    folded = steps.nth(2).locator("details.fold")
    expect(folded.locator("pre")).to_be_hidden()
    folded.locator("summary").click()
    expect(folded.locator("pre")).to_contain_text("line 59")
    expect(page.get_by_test_id("verdicts")).to_contain_text("wrong_kind")
    page.screenshot(path=tmp_path / "run.png", full_page=True)


def test_choosing_a_fault_type_narrows_the_matrix_to_its_tasks(
    served: str, browser: BrowserContext, tmp_path: Path
) -> None:
    page = browser.new_page()
    page.goto(served + "matrix")  # waits for the load event
    matrix = page.get_by_test_id("matrix")
    expect(matrix.locator("tbody tr")).to_have_count(2)

    page.get_by_test_id("filter-fault").select_option("custom(flagd)")

    expect(page).to_have_url(re.compile(r"fault=custom"))
    expect(matrix.locator("tbody tr")).to_have_count(1)
    expect(matrix.locator("tbody tr")).to_contain_text("Scenario-synth-2")
    page.wait_for_load_state()  # the filters' script runs before the load event
    page.get_by_test_id("filter-outcome").select_option("no_submission")
    expect(page).to_have_url(re.compile(r"outcome=no_submission"))
    expect(page.get_by_test_id("matrix").get_by_test_id("cell")).to_have_count(2)
    page.screenshot(path=tmp_path / "matrix.png", full_page=True)


def test_a_run_finished_while_the_leaderboard_is_open_appears_on_it(
    served: str, results: Results, browser: BrowserContext
) -> None:
    page = browser.new_page()
    page.goto(served)
    expect(page.get_by_test_id("leaderboard")).to_be_visible()
    expect(page.get_by_test_id("leaderboard")).not_to_contain_text("latecomer")

    write_results(results.b, [row("latecomer", "Scenario-synth-1", 1, 1.0)])

    expect(page.get_by_test_id("leaderboard")).to_contain_text("latecomer (results-b)")


def test_the_pages_fit_a_phone_screen_without_sideways_scrolling(
    served: str, browser: BrowserContext, tmp_path: Path
) -> None:
    page = browser.new_page()
    page.set_viewport_size({"width": 390, "height": 844})

    for name, path in (
        ("leaderboard", ""),
        ("matrix", "matrix"),
        ("run", "run/0/Scenario-synth-1/guesser/1"),
    ):
        page.goto(served + path)
        expect(page.locator("main h1")).to_be_visible()
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{name}: {overflow} px wider than the screen"
        page.screenshot(path=tmp_path / f"phone-{name}.png", full_page=True)


def test_choosing_the_directories_to_compare_puts_them_side_by_side(
    served: str, browser: BrowserContext, tmp_path: Path
) -> None:
    page = browser.new_page()
    page.goto(served + "compare")  # waits for the load event
    expect(page.get_by_test_id("compare").locator("thead")).to_contain_text("A: results-a")

    page.locator("select[name=a]").select_option(label="results-b")
    page.wait_for_url(re.compile(r"a=1"))  # waits for the load event too
    page.locator("select[name=b]").select_option(label="results-a")
    page.wait_for_url(re.compile(r"a=1&b=0"))

    table = page.get_by_test_id("compare")
    expect(table.locator("thead")).to_contain_text("A: results-b")
    expect(table.locator("thead")).to_contain_text("B: results-a")
    expect(table.locator("tbody tr")).to_have_count(2)
    page.screenshot(path=tmp_path / "compare.png", full_page=True)
