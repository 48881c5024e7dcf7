"""Triage and import in a real browser: the triage panel on the case page (loaded by htmx), accepting a part and
merging a duplicate from it; the import page (upload, preview, start, follow the job to its end)."""

from __future__ import annotations

import csv
import io

import pytest
from playwright.sync_api import expect

from minyi.cases.models import Case
from minyi.cases.tests.factories import create_case
from minyi.cases.workflow import CaseStatus
from minyi.intake.models import ImportJob, Triage, TriageState
from minyi.intake.triage import triage_case
from minyi.routing.models import Place

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TEXT = (
    "阳光花园小区东门外的垃圾站每天早上五点开始压缩作业，噪音很大，几十户居民无法休息，"
    "业主们说要集体到市政府门口静坐，联系电话13800001111。"
)


def test_the_triage_panel_accept_a_part_and_merge_a_duplicate(browsers, org):
    Place.objects.create(name="阳光花园", kind=Place.Kind.ESTATE, region=org.region)
    main = create_case(title="垃圾站噪音扰民", content=TEXT, contact={"phone": "13700000000"})
    triage_case(case_id=main.pk)
    dup = create_case(title="垃圾站噪音", content=TEXT, contact={"phone": "13600000000"})
    triage_case(case_id=dup.pk)
    Triage.objects.filter(case=dup).update(category=org.category)

    dispatcher = browsers.page()
    browsers.login(dispatcher, "t_dispatcher")
    dispatcher.goto(f"/staff/cases/{dup.pk}/")
    panel = dispatcher.locator("#triage-panel")
    expect(panel.locator("#triage-risk")).to_contain_text("高")  # the panel arrived through htmx
    expect(panel.locator("#triage-region")).to_contain_text("阳光花园")
    expect(panel.locator("#triage-duplicates")).to_contain_text(main.tracking_number)
    expect(panel).not_to_contain_text("13800001111")
    browsers.shot(dispatcher, "triage-panel")

    # accept the suggested category: the panel is swapped in place, and says so
    category = panel.locator("#triage-category")
    category.locator("summary").click()
    category.get_by_role("button", name="确认建议").click()
    expect(dispatcher.locator("#triage-category")).to_contain_text("已确认")
    assert Triage.objects.get(case=dup).category_state == TriageState.ACCEPTED
    assert Case.objects.get(pk=dup.pk).category_id == org.category.pk

    # merge into the earlier case (并案)
    dispatcher.locator("#triage-duplicates").get_by_role("button", name="并入此件").click()
    expect(dispatcher.locator(".messages")).to_contain_text("已并案")
    dup.refresh_from_db()
    assert dup.status == CaseStatus.MERGED and dup.merged_into_id == main.pk


def test_importing_a_spreadsheet_from_the_staff_page(browsers, org, tmp_path):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["留言编号", "留言主题", "留言时间", "留言详情", "一级分类", "答复意见", "答复时间"])
    writer.writerow(
        [
            "9001",
            "电梯停运",
            "2019/4/16 22:05:13",
            "3号楼电梯停运两周。",
            "城乡建设",
            "已修复。",
            "2019/4/18 9:00:00",
        ]
    )
    writer.writerow(["9002", "", "2019/4/16 22:05:13", "", "城乡建设", "", ""])
    writer.writerow(["9003", "路灯不亮", "43577.5", "人民路路灯坏了。", "城乡建设", "", ""])
    path = tmp_path / "hotline-2019.csv"
    path.write_bytes(buffer.getvalue().encode("gb18030"))

    supervisor = browsers.page()
    browsers.login(supervisor, "t_supervisor")
    supervisor.get_by_role("link", name="导入历史诉求").click()
    supervisor.set_input_files("input[name=file]", str(path))
    supervisor.fill("input[name=source]", "hotline")
    supervisor.get_by_role("button", name="上传并预览").click()
    expect(supervisor.locator("h1")).to_contain_text("hotline-2019.csv")
    expect(supervisor.locator("table")).to_contain_text("电梯停运")
    expect(supervisor.locator("table")).to_contain_text("不会导入")  # row 3 has no text
    browsers.shot(supervisor, "import-preview")
    supervisor.get_by_role("button", name="开始导入").click()
    expect(supervisor.locator("#import-progress")).to_contain_text("已完成", timeout=60_000)
    expect(supervisor.locator("#import-progress")).to_contain_text("import-errors.csv")
    browsers.shot(supervisor, "import-finished")
    job = ImportJob.objects.get()
    assert (job.status, job.imported, job.errors) == ("finished", 2, 1)
    assert set(Case.objects.filter(channel="import").values_list("external_number", flat=True)) == {
        "9001",
        "9003",
    }
