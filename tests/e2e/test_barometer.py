"""The barometer's dashboard in a real browser: a leader opens it on the hand-made set of
minyi/barometer/tests/rollup_set.py, every ECharts canvas draws under our CSP, the tables under the charts hold the
figures, a click on a slice opens the workbench with the cases behind it; a screenshot goes to
test-artifacts/e2e/barometer-dashboard.png."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from minyi.barometer import dashboard, rollups
from minyi.barometer.tests import rollup_set
from minyi.barometer.tests.rollup_set import LATER

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_leader_reads_the_dashboard(browsers, org):
    data = rollup_set.build(org)
    rollups.rollup_rebuild(now=LATER)

    page = browsers.page()
    browsers.login(page, org.leader.username)
    page.goto("/staff/barometer/?period=2026-03")
    expect(page.locator("h1")).to_contain_text("晴雨表")
    # every chart with data drew its canvas (ECharts loaded, the CSP let it run)
    page.wait_for_function("document.body.getAttribute('data-charts-drawn') !== null")
    drawn = int(page.locator("body").get_attribute("data-charts-drawn"))
    assert drawn == len(dashboard.CHARTS)
    for name in dashboard.CHARTS:
        expect(page.locator(f'[data-chart="{name}"] canvas').first).to_be_visible()
    # the tables under the charts hold the figures
    expect(page.locator("#card-received .stat-value")).to_contain_text("8")
    expect(page.locator("#table-categories")).to_contain_text("住房保障")
    expect(page.locator("#table-categories")).to_contain_text("37.5%")
    expect(page.locator("#table-regions")).to_contain_text("江北区")
    expect(page.locator("#table-departments")).to_contain_text(org.dept_a.name)
    expect(page.locator("#table-gaps tr.is-gap")).to_contain_text("住房保障")
    expect(page.locator("#table-volume")).to_contain_text("03-02")
    page.evaluate("document.fonts.ready.then(() => true)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "barometer-dashboard.png"), full_page=True)

    # a filter narrows every chart; a row's link opens the workbench with exactly its cases
    page.select_option("#baro-channel", "phone")
    page.locator(".baro-filters button[type=submit]").click()
    expect(page.locator("#card-received .stat-value")).to_contain_text("1")
    page.locator("#table-categories").get_by_role("link", name="道路交通").click()
    page.wait_for_url("**/staff/?*")
    expect(page.locator("#case-list")).to_contain_text(data.cases["s1"].tracking_number)
    expect(page.locator("#case-list")).not_to_contain_text(data.cases["r1"].tracking_number)
