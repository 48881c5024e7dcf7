"""What the citizen sees through GET /api/v1/appeals/{no}: public events only, the department and never a
staff member, notes only where they were written for (or by) the citizen, and what they may do now."""

from __future__ import annotations

import json

from minyi.cases.workflow import CaseStatus

S = CaseStatus


def test_the_history_hides_internal_events_and_staff_identities(api):
    appeal = api.to_state(S.IN_PROGRESS)
    api.act("handler", appeal.id, "request_extension", note="内部：需要协调住建局", data={"days": 5})
    api.act("head", appeal.id, "approve_extension", note="内部：同意")
    api.act("supervisor", appeal.id, "escalate", note="内部：督办")
    api.act("handler", appeal.id, "reply", data={"text": "电梯已修复并通过检验。"})

    response = api.client.get(f"/api/v1/appeals/{appeal.tracking_number}", {"query_code": appeal.query_code})
    view = response.json()
    text = response.content.decode()

    assert [e["action"] for e in view["history"]] == ["submit", "accept", "assign", "start", "reply"]
    assert view["replies"] == [
        {
            "text": "电梯已修复并通过检验。",
            "department": "市住建局物业监管科",
            "sent_at": view["replies"][0]["sent_at"],
        }
    ]
    assign = view["history"][2]
    assert assign["details"] == {"department": "市住建局物业监管科"}
    for secret in (
        "t_handler_a",
        "t_head_a",
        "t_supervisor",
        "t_intake",
        "t_dispatcher",
        "内部",
        "handler",
        "supervisor",
    ):
        assert secret not in text, secret
    assert all(e["note"] == "" for e in view["history"])
    assert view["evaluation"]["state"] == "open"
    assert view["actions"] == ["evaluate", "request_review", "add_info"]  # in the order of the table


def test_notes_written_for_the_citizen_are_shown(api):
    declined = api.submit()
    api.act("intake", declined.id, "decline", note="属于诉讼程序，请向法院起诉。")
    view = api.track(declined)
    assert view["status"]["value"] == "declined"
    assert view["history"][-1]["note"] == "属于诉讼程序，请向法院起诉。"
    assert view["actions"] == []

    referred = api.submit()
    api.act("intake", referred.id, "refer", note="已转交。", data={"referred_to": "江北区人民法院"})
    last = api.track(referred)["history"][-1]
    assert (last["note"], last["details"]) == ("已转交。", {"referred_to": "江北区人民法院"})


def test_the_citizen_drives_their_part_of_the_case(api):
    appeal = api.to_state(S.ASSIGNED)
    view = api.citizen(appeal, "add_info", data={"text": "补充照片已邮寄。"})
    assert view["history"][-1]["details"] == {"text": "补充照片已邮寄。"}
    assert view["actions"] == ["add_info"]

    api.act("handler", appeal.id, "start")
    api.act("handler", appeal.id, "reply", data={"text": "已修复。"})
    view = api.citizen(
        appeal, "evaluate", note="仍然坏", data={"rating": "dissatisfied", "resolved": "false"}
    )
    assert view["status"]["value"] == "replied"
    assert view["evaluation"]["state"] == "done" and view["evaluation"]["rating"] == "dissatisfied"
    assert view["history"][-1]["note"] == "仍然坏"
    again = api.citizen(appeal, "evaluate", data={"rating": "satisfied"}, expect=409)
    assert again["error"]["code"] == "conflict"

    view = api.citizen(appeal, "request_review", note="请复查。")
    assert view["status"]["value"] == "under_review"
    assert view["actions"] == ["add_info"]


def test_evaluation_needs_a_reason_when_dissatisfied_and_a_valid_rating(api):
    appeal = api.to_state(S.REPLIED)
    error = api.citizen(appeal, "evaluate", data={"rating": "dissatisfied"}, expect=400)["error"]
    assert "reason" in error["fields"]
    error = api.citizen(appeal, "evaluate", data={"rating": "五星好评"}, expect=400)["error"]
    assert "rating" in error["fields"]
    assert api.track(appeal)["evaluation"]["state"] == "open"


def test_citizen_action_bodies_are_validated(api):
    appeal = api.to_state(S.ASSIGNED)
    url = f"/api/v1/appeals/{appeal.tracking_number}/actions/add_info"
    no_code = api.client.post(url, data=json.dumps({"data": {"text": "x"}}), content_type="application/json")
    assert no_code.status_code == 400 and "query_code" in no_code.json()["error"]["fields"]
    gb = json.dumps({"query_code": appeal.query_code, "data": {"text": "補充材料"}}, ensure_ascii=False)
    bad = api.client.post(url, data=gb.encode("big5"), content_type="application/json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_encoding"
    assert [e["action"] for e in api.track(appeal)["history"]][-1] == "assign"


def test_a_merged_appeal_shows_the_main_case_it_follows(api):
    main = api.submit(title="和平路积水")
    dup = api.submit(title="和平路积水严重")
    api.act("dispatcher", dup.id, "merge", note="同一事项", data={"into": main.tracking_number})
    api.act("intake", main.id, "accept")
    api.act("dispatcher", main.id, "assign", data={"department": api.org.dept_a.pk})
    api.act("handler", main.id, "start")
    api.act("handler", main.id, "reply", data={"text": "已疏通排水管道，联系人电话13800001111。"})
    body = api.track(dup)
    assert body["status"]["value"] == "merged"
    followed = body["merged_into"]
    assert followed["tracking_number"] == main.tracking_number
    assert followed["status"]["value"] == "replied"
    assert followed["replies"][0]["text"].startswith("已疏通排水管道") and "13800001111" not in str(followed)
    assert api.track(main)["merged_into"] is None
