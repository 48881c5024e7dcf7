"""The public side in a real browser: the board (search, a case page with its public history, "me too"), and
the scoreboard with a department's trend chart (ECharts under our CSP)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from minyi.cases.tests.factories import create_case, drive
from minyi.cases.workflow import CaseStatus
from minyi.disclosure.models import Publication
from minyi.disclosure.scoreboard import rollup_rebuild

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = "13912345678"


def test_the_board_a_case_page_and_the_scoreboard(browsers, org):
    closed = create_case(
        title="滨江路路灯不亮",
        content=f"滨江路88号门口的路灯坏了一个月，夜里出行不安全。我叫王小明，电话{PHONE}。",
        category=org.category,
        region=org.region,
        contact={"name": "王小明", "phone": PHONE},
    )
    drive(closed, CaseStatus.CLOSED, org)  # the reply's commit makes the publication (the signal's receiver)
    other = create_case(
        title="小区噪音扰民", content="夜间施工噪音很大。", category=org.category, region=org.region
    )
    drive(other, CaseStatus.REPLIED, org)
    held = create_case(kind="petition", title="信访件不公开", content="信访内容。", region=org.region)
    drive(held, CaseStatus.REPLIED, org)
    assert Publication.objects.get(case=closed).state == Publication.State.PUBLISHED
    assert Publication.objects.get(case=held).state == Publication.State.HELD
    rollup_rebuild()

    page = browsers.page()
    page.goto("/")
    page.get_by_role("link", name="留言板").first.click()
    board = page.locator("#board-list")
    expect(board).to_contain_text("滨江路路灯不亮")
    expect(board).to_contain_text("小区噪音扰民")
    expect(board).not_to_contain_text("信访件不公开")
    browsers.shot(page, "board")

    # search by words: only the matching case is left
    page.fill("#board-q", "路灯")
    page.locator("#board-q").press("Enter")
    expect(page.locator("#board-list")).to_contain_text("滨江路路灯不亮")
    expect(page.locator("#board-list")).not_to_contain_text("小区噪音扰民")

    # the case page: masked content, the reply, the public history with the department and the rating
    page.locator("#board-list").get_by_role("link", name="滨江路路灯不亮").click()
    expect(page.locator("#board-content")).to_contain_text("滨江路**号门口的路灯坏了一个月")
    expect(page.locator("#board-content")).to_contain_text("139****5678")
    expect(page.locator("main")).not_to_contain_text(PHONE)
    expect(page.locator("main")).not_to_contain_text("王小明")
    expect(page.locator("main")).not_to_contain_text(closed.tracking_number)
    expect(page.locator("#board-replies")).to_contain_text("已督促物业公司完成维修")
    history = page.locator("#board-history")
    expect(history).to_contain_text(org.dept_a.name)
    expect(history).to_contain_text("满意")
    browsers.shot(page, "board-case")

    # "me too": the count goes up once, and a second press from the same browser does not count again
    count = page.locator("#support-count")
    before = int(count.inner_text().strip() or 0)
    page.locator("#support-box").get_by_role("button").click()
    expect(page.locator("#support-count")).to_have_text(str(before + 1))
    assert Publication.objects.get(case=closed).support_count == before + 1

    # the scoreboard of the month the cases came in, then the department's trend
    page.goto("/scoreboard/?period=2026-03")
    ranking = page.locator("#department-ranking")
    expect(ranking).to_contain_text(org.dept_a.name)
    expect(page.locator("#definitions")).to_contain_text("响应率")
    browsers.shot(page, "scoreboard")
    ranking.get_by_role("link", name=org.dept_a.name).click()
    expect(page.locator("#score-trend-chart canvas").first).to_be_visible()  # ECharts drew, CSP allowed it
    expect(page.locator("#trend-table")).to_contain_text("2026")
    browsers.shot(page, "scoreboard-trend")
