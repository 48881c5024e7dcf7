"""/healthz, the OpenAPI document and docs page, and the one error shape for everything under /api/v1."""

from __future__ import annotations

import json
import logging
import re

import pytest
from django.db import OperationalError
from django.test import Client

from minyi.api import health
from minyi.cases import selectors
from minyi.cases.models import Case
from minyi.cases.workflow import CaseAction


@pytest.fixture
def client(db):
    return Client()


def shape(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code and body["error"]["message"]
    return body["error"]


def test_healthz_answers_200_while_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    assert client.get("/healthz/").status_code == 200


def test_healthz_answers_503_when_the_database_does_not(client, monkeypatch):
    class Broken:
        def __enter__(self):
            raise OperationalError("could not connect to server")

        def __exit__(self, *exc):
            return False

    class Connection:
        def cursor(self):
            return Broken()

    monkeypatch.setattr(health, "connection", Connection())
    error = shape(client.get("/healthz"), 503, "database_unavailable")
    assert error["message"] == "数据库无响应。"


def test_healthz_refuses_other_methods(client):
    assert client.post("/healthz").status_code == 405


def test_openapi_document(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["info"]["title"] == "minyi API"
    paths = doc["paths"]
    for path in (
        "/api/v1/appeals",
        "/api/v1/appeals/{tracking_number}",
        "/api/v1/appeals/{tracking_number}/actions/{action}",
        "/api/v1/auth/token",
        "/api/v1/cases",
        "/api/v1/cases/{case_id}",
        "/api/v1/cases/{case_id}/actions/{action}",
    ):
        assert path in paths, path
    submit = paths["/api/v1/appeals"]["post"]
    assert "201" in submit["responses"] and "409" in submit["responses"]
    assert any(p["name"] == "Idempotency-Key" for p in submit["parameters"])
    assert "security" not in submit  # public
    assert paths["/api/v1/cases"]["get"]["security"] == [{"TokenAuth": []}]


def test_docs_page_runs_under_our_csp(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "script-src 'self'" in response["Content-Security-Policy"]
    # No inline script, nothing from another origin: every <script> either has a same-site src or is data.
    for tag in re.findall(r"<script[^>]*>", html):
        assert re.search(r'src="/api/v1/docs/assets/', tag) or 'type="application/json"' in tag, tag
    assert "http://" not in html and "https://" not in html
    settings = json.loads(
        re.search(r'<script id="swagger-settings"[^>]*>(.*?)</script>', html, re.S).group(1)
    )
    assert settings["url"] == "/api/v1/openapi.json"
    for asset in re.findall(r'(?:src|href)="(/api/v1/docs/assets/[^"]+)"', html):
        served = client.get(asset)
        assert served.status_code == 200, asset
        assert b"".join(served.streaming_content)
    shape(client.get("/api/v1/docs/assets/..%2F..%2Fsettings.py"), 404, "not_found")
    shape(client.get("/api/v1/docs/assets/swagger-ui.js.map"), 404, "not_found")


def test_unknown_paths_and_methods_answer_in_the_error_shape(client):
    shape(client.get("/api/v1/nothing-here"), 404, "not_found")
    shape(client.get("/api/v1/"), 404, "not_found")
    shape(client.get("/api/v1"), 404, "not_found")
    shape(client.post("/api/v1/appeals/", data="{}", content_type="application/json"), 404, "not_found")
    error = shape(client.get("/api/v1/auth/token"), 405, "method_not_allowed")
    assert error["fields"]["allowed_methods"] == ["POST"]
    shape(client.delete("/api/v1/appeals"), 405, "method_not_allowed")


def test_ninja_validation_errors_become_400(api):
    response = api.staff_post(
        "supervisor", "/api/v1/cases/1/actions/accept", {"note": ["not", "text"], "data": 5}
    )
    error = shape(response, 400, "validation_error")
    assert set(error["fields"]) == {"note", "data"}
    response = api.staff_get("supervisor", "/api/v1/cases/not-a-number")
    assert shape(response, 400, "validation_error")["fields"] == {"case_id": "应为整数"}


def test_unexpected_errors_are_a_generic_500_logged_without_personal_data(api, monkeypatch, caplog):
    personal = (
        "张三 " + "138" + "00138000 zhangsan@example.cn"
    )  # not literally in the traceback's source lines

    def boom(**kwargs):
        raise RuntimeError(personal)

    monkeypatch.setattr(selectors, "case_list_for_user", boom)
    with caplog.at_level(logging.ERROR, logger="minyi.api"):
        response = api.staff_get("supervisor", "/api/v1/cases", q="13800138000")
    error = shape(response, 500, "server_error")
    assert "13800138000" not in response.content.decode()
    assert error["message"] == "服务器内部错误，请稍后再试。"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "RuntimeError" in logged and "/api/v1/cases" in logged
    assert "13800138000" not in logged and "张三" not in logged and "zhangsan" not in logged


def test_domain_error_shape_carries_fields(api):
    appeal = api.to_state("submitted")
    error = shape(
        api.staff_post("supervisor", f"/api/v1/cases/{appeal.id}/actions/start", {}),
        409,
        "invalid_transition",
    )
    assert error["fields"]["status"] == "submitted"
    assert error["fields"]["action"] == "start"
    assert "accept" in error["fields"]["allowed"]
    assert Case.objects.count() == 1
    assert CaseAction.START.value not in error["fields"]["allowed"]


def test_committed_openapi_document_is_current(client):
    """docs/openapi.json is the API's documentation file: it must say what /api/v1/openapi.json says."""
    from minyi.api.management.commands.api_openapi import DEFAULT_PATH, openapi_text

    committed = DEFAULT_PATH.read_text(encoding="utf-8")
    assert committed == openapi_text(), "docs/openapi.json is stale: run `minyi api_openapi`"
    assert json.loads(committed) == client.get("/api/v1/openapi.json").json()
