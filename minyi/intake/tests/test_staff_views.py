"""The staff pages of intake: the triage panel (show, accept, correct, merge, re-run) and the import pages
(upload, preview and remap, start, follow, download the bad rows), each behind the policies."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from minyi.cases.models import Case, CaseEvent
from minyi.cases.tests.factories import NOW, create_case, fresh
from minyi.cases.workflow import CaseStatus
from minyi.intake.models import ImportJob, Triage, TriageState
from minyi.intake.triage import triage_case

pytestmark = pytest.mark.django_db

TEXT = "和平小区东门外的垃圾站每天早上五点开始压缩作业，噪音很大，附近居民无法休息，电话13800001111。"
HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "triage-panel"}


def login(client, user):
    client.force_login(fresh(user))
    return client


@pytest.fixture
def pair(org):
    main = create_case(title="垃圾站噪音", content=TEXT, contact={"phone": "13700000000"})
    triage_case(case_id=main.pk, now=NOW)
    dup = create_case(title="垃圾站噪音扰民", content=TEXT, contact={"phone": "13600000000"})
    triage_case(case_id=dup.pk, now=NOW)
    Triage.objects.filter(case=dup).update(category=org.category)
    return main, dup


def test_the_case_page_loads_the_panel_and_the_panel_shows_every_part(client, org, pair):
    main, dup = pair
    login(client, org.dispatcher)
    page = client.get(reverse("cases:detail", args=[dup.pk])).content.decode()
    assert reverse("intake:triage_panel", args=[dup.pk]) in page
    panel = client.get(reverse("intake:triage_panel", args=[dup.pk]), **HTMX)
    assert panel.status_code == 200
    html = panel.content.decode()
    assert "<html" not in html  # a fragment for htmx
    for heading in ("分类", "区域与地点", "建议承办部门", "个人信息", "疑似重复", "风险研判"):
        assert heading in html
    assert main.tracking_number in html and "并入此件" in html
    assert "13800001111" not in html  # personal data appear masked in the panel
    full = client.get(reverse("intake:triage_panel", args=[dup.pk]))
    assert "<html" in full.content.decode()  # without htmx, a page of its own


def test_accepting_a_part_from_the_panel(client, org, pair):
    _main, dup = pair
    login(client, org.intake)
    url = reverse("intake:triage_review", args=[dup.pk, "category"])
    response = client.post(url, {"category-decision": "accept"}, **HTMX)
    assert response.status_code == 200 and "已确认" in response.content.decode()
    assert Case.objects.get(pk=dup.pk).category_id == org.category.pk
    assert Triage.objects.get(case=dup).category_state == TriageState.ACCEPTED
    # without htmx: back to the case page
    response = client.post(
        reverse("intake:triage_review", args=[dup.pk, "risk"]), {"risk-decision": "accept"}
    )
    assert response.status_code == 302 and response["Location"].endswith(
        f"/staff/cases/{dup.pk}/#triage-panel"
    )


def test_a_bad_correction_is_a_400_with_the_message(client, org, pair):
    _main, dup = pair
    login(client, org.supervisor)
    url = reverse("intake:triage_review", args=[dup.pk, "risk"])
    response = client.post(url, {"risk-decision": "correct", "risk-risk_level": "high"}, **HTMX)
    assert response.status_code == 400
    assert "更正风险等级时请说明理由" in response.content.decode()
    assert not CaseEvent.objects.filter(case=dup, action="triage_review").exists()


def test_who_sees_and_who_may_act(client, org, pair):
    _main, dup = pair
    login(client, org.handler_b)  # not their department: the case does not exist for them
    assert client.get(reverse("intake:triage_panel", args=[dup.pk])).status_code == 404
    assert (
        client.post(
            reverse("intake:triage_review", args=[dup.pk, "category"]), {"category-decision": "accept"}
        ).status_code
        == 404
    )
    login(client, org.leader)  # reads, changes nothing
    html = client.get(reverse("intake:triage_panel", args=[dup.pk]), **HTMX).content.decode()
    assert "核定" not in html and "并入此件" not in html
    response = client.post(
        reverse("intake:triage_review", args=[dup.pk, "category"]), {"category-decision": "accept"}, **HTMX
    )
    assert response.status_code == 403
    login(client, org.citizen)
    assert client.get(reverse("intake:triage_panel", args=[dup.pk])).status_code == 404
    client.logout()
    assert client.get(reverse("intake:triage_panel", args=[dup.pk])).status_code == 302  # to the login page


def test_merging_from_the_panel(client, org, pair):
    main, dup = pair
    login(client, org.dispatcher)
    response = client.post(reverse("intake:triage_merge", args=[dup.pk, main.pk]))
    assert response.status_code == 302
    dup.refresh_from_db()
    assert dup.status == CaseStatus.MERGED and dup.merged_into_id == main.pk


def test_rerunning_the_triage(client, org, pair):
    _main, dup = pair
    login(client, org.intake)
    response = client.post(reverse("intake:triage_rerun", args=[dup.pk]), **HTMX)
    assert response.status_code == 200
    assert CaseEvent.objects.filter(case=dup, action="triage").count() == 2


# ---------------------------------------------------------------------------------------------- import pages


def csv_upload(rows, header=("留言编号", "留言主题", "留言时间", "留言详情", "一级分类"), name="h.csv"):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return SimpleUploadedFile(name, buffer.getvalue().encode("utf-8"), content_type="text/csv")


ROWS = [
    ["1", "电梯停运", "2019/4/16 22:05:13", "3号楼电梯停运两周。", "城乡建设"],
    ["2", "", "2019/4/16 22:05:13", "", "城乡建设"],
    ["3", "路灯不亮", "2019/4/17 20:00:00", "人民路路灯坏了。", "城乡建设"],
]


def test_upload_preview_start_and_follow_an_import(client, org, django_capture_on_commit_callbacks):
    login(client, org.supervisor)
    assert client.get(reverse("intake:import_index")).status_code == 200
    response = client.post(
        reverse("intake:import_upload"),
        {"file": csv_upload(ROWS), "source": "hotline", "create_missing": "on"},
    )
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert job.status == "pending" and job.source == "hotline"
    preview = client.get(reverse("intake:import_preview", args=[job.pk])).content.decode()
    assert "电梯停运" in preview and "不会导入" in preview  # the second row has no text
    # one column cannot feed two fields
    response = client.post(
        reverse("intake:import_preview", args=[job.pk]), {"title": "留言主题", "content": "留言主题"}
    )
    assert response.status_code == 400 and "留言主题" in response.content.decode()
    # remap: the subject column is the content (a contrived but checkable change)
    response = client.post(reverse("intake:import_preview", args=[job.pk]), {"content": "留言主题"})
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.options["mapping"]["columns"]["content"] == ["留言主题"]
    with django_capture_on_commit_callbacks(execute=True):  # the background job runs inline in tests
        response = client.post(reverse("intake:import_start", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == "finished" and job.imported == 2 and job.errors == 1
    assert Case.objects.get(external_number="3").content == "路灯不亮"
    progress = client.get(
        reverse("intake:import_progress", args=[job.pk]),
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="import-progress",
    )
    assert "hx-trigger" not in progress.content.decode()  # finished: no more polling
    errors = client.get(reverse("intake:import_errors", args=[job.pk]))
    lines = list(csv.reader(io.StringIO(b"".join(errors.streaming_content).decode("utf-8-sig"))))
    assert lines[0] == ["file", "row", "column", "reason"] and lines[1][1] == "3"


def test_a_file_that_is_not_a_table_is_refused_at_upload(client, org):
    login(client, org.supervisor)
    picture = SimpleUploadedFile("photo.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 100)
    response = client.post(reverse("intake:import_upload"), {"file": picture})
    assert response.status_code == 400
    assert "无法作为表格读取" in response.content.decode()
    assert "/var/" not in response.content.decode()  # no server paths in the message
    assert not ImportJob.objects.exists()
    no_text = csv_upload([["1", "2"]], header=("金额", "数量"))
    response = client.post(reverse("intake:import_upload"), {"file": no_text})
    assert response.status_code == 400 and "金额" in response.content.decode()


def test_the_import_area_is_for_import_roles_only(client, org):
    for user in (org.dispatcher, org.handler_a, org.leader, org.citizen):
        login(client, user)
        assert client.get(reverse("intake:import_index")).status_code == 404
    login(client, org.admin)
    assert client.get(reverse("intake:import_index")).status_code == 200
