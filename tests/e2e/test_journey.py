"""The main journey in a real browser, one context per person:

a person submits on the web -> intake accepts -> the dispatcher assigns -> the handler starts and replies ->
the person rates the reply dissatisfied -> the supervisor reopens -> the handler replies again ->
the person is satisfied and the case is closed.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from minyi.cases.models import Case, Evaluation, PersonalDataAccess
from minyi.cases.workflow import CaseStatus

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

S = CaseStatus


def open_case_from_workbench(page, tracking_number: str) -> None:
    """Search the workbench for the number (the list updates through htmx) and open the case."""
    page.goto("/staff/")
    page.fill("#wb-q", tracking_number)
    page.press("#wb-q", "Enter")
    link = page.locator("#case-list").get_by_role("link", name=tracking_number)
    expect(link).to_be_visible()
    expect(page).to_have_url(re.compile(r"q=" + tracking_number))  # hx-push-url kept the filter in the URL
    link.click()
    expect(page.locator("h1.case-title")).to_be_visible()


def perform(
    page, action: str, fill: dict[str, str] | None = None, select: dict[str, str] | None = None
) -> None:
    """Open an action's form on the case page, fill it, submit it (htmx-boosted) and wait for the result."""
    details = page.locator(f"#action-{action}")
    details.locator("summary").click()
    for name, value in (fill or {}).items():
        details.locator(f"[name={name}]").fill(value)
    for name, value in (select or {}).items():
        details.locator(f"select[name={name}]").select_option(value)
    details.locator("button[type=submit]").click()
    expect(page.locator(".messages")).to_contain_text("已完成")


def test_appeal_from_submission_to_closure(browsers, org):
    # -- the person submits on the web
    citizen = browsers.page()
    citizen.goto("/")
    assert citizen.evaluate("typeof window.htmx") == "object", "htmx did not load"
    assert "Noto Sans SC" in citizen.evaluate("getComputedStyle(document.body).fontFamily")
    citizen.evaluate("document.fonts.ready.then(() => true)")
    assert citizen.evaluate("document.fonts.check('16px \"Noto Sans SC\"', '民意诉求')"), (
        "Noto Sans SC not loaded"
    )
    assert citizen.evaluate("getComputedStyle(document.querySelector('.hero-actions a')).display") in (
        "inline-block",
        "inline-flex",
        "block",
        "flex",
    ), "Pico CSS did not style the buttons"
    browsers.shot(citizen, "portal")

    citizen.get_by_role("link", name="我要反映").first.click()
    expect(citizen.locator("h1")).to_have_text("我要反映")
    citizen.select_option("select[name=kind]", "complaint")
    citizen.fill("input[name=title]", "小区3号楼电梯停运两周")
    citizen.fill(
        "textarea[name=content]",
        "江北区幸福小区3号楼电梯自本月初起停运，物业一直未修。楼里有多位老人，上下楼十分困难，请督促尽快修复。",
    )
    citizen.select_option("select[name=category]", str(org.category.pk))
    citizen.select_option("select[name=region]", str(org.region.pk))
    citizen.fill("input[name=address]", "江北区幸福路88号幸福小区3号楼")
    citizen.fill("input[name=contact_name]", "陈女士")
    citizen.fill("input[name=contact_phone]", "13812345678")
    citizen.fill("input[name=contact_email]", "chen@example.cn")
    browsers.shot(citizen, "submit-form")
    citizen.get_by_role("button", name="提交诉求").click()

    expect(citizen.locator("h1")).to_have_text("您的诉求已提交")
    tracking_number = citizen.locator("#receipt-number").inner_text().strip()
    query_code = citizen.locator("#receipt-code").inner_text().strip()
    assert re.fullmatch(r"MY\d{13}", tracking_number)
    assert len(query_code) == 12
    browsers.shot(citizen, "receipt")
    citizen.reload()
    expect(citizen.locator("#receipt-code")).to_have_count(0)  # the code is shown once only
    case = Case.objects.get(tracking_number=tracking_number)

    # -- intake accepts
    intake = browsers.page()
    intake.goto("/accounts/login/")
    browsers.shot(intake, "login")
    browsers.login(intake, "t_intake")
    expect(intake.locator("#case-list")).to_contain_text(tracking_number)
    browsers.shot(intake, "workbench-intake")
    open_case_from_workbench(intake, tracking_number)
    browsers.shot(intake, "case-intake")
    stale = intake.context.new_page()  # the same case open in a second tab
    stale.goto(intake.url)
    perform(intake, "accept")
    expect(intake.locator(".case-badges")).to_contain_text("已受理")
    # accepting again from the stale tab: refused with 409, and htmx shows the error page in place
    stale.locator("#action-accept summary").click()
    stale.locator("#action-accept button[type=submit]").click()
    expect(stale.locator(".alert")).to_contain_text("可执行的操作")
    expect(stale.locator(".case-badges")).to_contain_text("已受理")
    stale.close()
    intake.get_by_role("link", name="登记来电来信来访").first.click()
    expect(intake.locator("input[name=channel][value=phone]")).to_be_checked()
    browsers.shot(intake, "staff-log-form")

    # -- the dispatcher assigns to the handler's department
    dispatcher = browsers.page()
    browsers.login(dispatcher, "t_dispatcher")
    open_case_from_workbench(dispatcher, tracking_number)
    perform(dispatcher, "assign", select={"department": str(org.dept_a.pk)})
    expect(dispatcher.locator(".case-badges")).to_contain_text("已交办")
    browsers.shot(dispatcher, "case-assigned")

    # -- the handler starts and replies; looks at the contact details (logged)
    handler = browsers.page()
    browsers.login(handler, "t_handler_a")
    handler.get_by_role("link", name=re.compile("本部门办理中")).click()
    expect(handler.locator("#case-list")).to_contain_text(tracking_number)
    browsers.shot(handler, "workbench-handler")
    handler.get_by_role("link", name="通知").click()
    expect(handler.locator(".notification-list")).to_contain_text(tracking_number)
    browsers.shot(handler, "notifications")
    open_case_from_workbench(handler, tracking_number)
    handler.get_by_role("button", name="查看联系方式").click()
    expect(handler.locator("#contact-box")).to_contain_text("13812345678")
    assert PersonalDataAccess.objects.filter(case=case, user=org.handler_a).count() == 1
    perform(handler, "start")
    perform(
        handler, "reply", fill={"text": "经现场核查，电梯主板损坏，已责成物业公司更换，预计3日内恢复运行。"}
    )
    expect(handler.locator(".case-badges")).to_contain_text("已答复")
    browsers.shot(handler, "case-replied")

    # -- the person tracks the case and is dissatisfied
    citizen.goto("/track/")
    citizen.fill("input[name=tracking_number]", tracking_number)
    citizen.fill("input[name=query_code]", query_code)
    browsers.shot(citizen, "track-form")
    citizen.get_by_role("button", name="查询").click()
    expect(citizen.locator("#case-status")).to_contain_text("已答复")
    expect(citizen.locator(".reply").first).to_contain_text("电梯主板损坏")
    browsers.shot(citizen, "track-replied")
    evaluate = citizen.locator("#action-evaluate")
    evaluate.locator("input[name=rating][value=dissatisfied]").check()
    evaluate.locator("input[name=resolved][value=no]").check()
    evaluate.locator("textarea[name=reason]").fill("三天过去了电梯仍未恢复，物业也没有人来。")
    evaluate.get_by_role("button", name="提交评价").click()
    expect(citizen.locator(".messages")).to_contain_text("督办")
    expect(citizen.locator("#case-status")).to_contain_text("已答复")

    # -- the supervisor reopens
    supervisor = browsers.page()
    browsers.login(supervisor, "t_supervisor")
    supervisor.get_by_role("link", name=re.compile("待督办处理")).click()
    expect(supervisor.locator("#case-list")).to_contain_text(tracking_number)
    expect(supervisor.locator("#case-list")).to_contain_text("群众不满意")
    browsers.shot(supervisor, "workbench-supervision")
    open_case_from_workbench(supervisor, tracking_number)
    perform(supervisor, "reopen", fill={"note": "群众反映电梯仍未修复，请重新办理并现场回访。"})
    expect(supervisor.locator(".case-badges")).to_contain_text("已交办")
    browsers.shot(supervisor, "case-reopened")

    # -- the handler replies again
    handler.reload()
    perform(handler, "start")
    perform(
        handler,
        "reply",
        fill={"text": "电梯主板已更换，经特种设备检验合格，已于今日恢复运行，并已电话回访。"},
    )
    expect(handler.locator(".case-badges")).to_contain_text("已答复")

    # -- the person is satisfied; the case is closed
    citizen.reload()  # the session remembers the proof: no need to type the code again
    expect(citizen.locator(".reply")).to_have_count(2)
    evaluate = citizen.locator("#action-evaluate")
    evaluate.locator("input[name=rating][value=satisfied]").check()
    evaluate.locator("input[name=resolved][value=yes]").check()
    evaluate.get_by_role("button", name="提交评价").click()
    expect(citizen.locator(".messages")).to_contain_text("诉求已办结")
    expect(citizen.locator("#case-status")).to_contain_text("已办结")
    browsers.shot(citizen, "track-closed")

    case.refresh_from_db()
    assert case.status == S.CLOSED
    assert case.reopen_count == 1
    assert list(
        Evaluation.objects.filter(case=case).order_by("created_at").values_list("rating", flat=True)
    ) == [
        "dissatisfied",
        "satisfied",
    ]
