"""The public submission form, its receipt, and the staff log of calls, letters and visits."""

from __future__ import annotations

from urllib.parse import quote_from_bytes

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, RequestFactory
from django.urls import reverse

from minyi.cases.models import Attachment, Case, CaseContact
from minyi.intake.codes import check_query_code
from minyi.intake.views import uploads_from

SUBMIT = reverse("intake:submit")
RECEIPT = reverse("intake:receipt")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32

VALID = {
    "kind": "complaint",
    "title": "小区电梯停运",
    "content": "3号楼电梯已停运两周，老人上下楼非常困难，请尽快督促物业修复。",
    "contact_name": "王五",
    "contact_phone": "13700137000",
    "contact_email": "wangwu@example.cn",
}


def text_of(response) -> str:
    return response.content.decode()


def assert_refused(response, message: str) -> None:
    """A 4xx page that names the problem in Chinese, and nothing stored."""
    assert 400 <= response.status_code < 500, response.status_code
    assert message in text_of(response)
    assert Case.objects.count() == 0
    assert Attachment.objects.count() == 0
    assert CaseContact.objects.count() == 0


# ---------------------------------------------------------------------------------------------- the form


@pytest.mark.django_db
def test_submission_form_renders_with_csrf_token_and_csp(org):
    response = Client().get(SUBMIT)
    assert response.status_code == 200
    html = text_of(response)
    assert "csrfmiddlewaretoken" in html
    assert 'enctype="multipart/form-data"' in html
    assert 'name="attachments"' in html and "multiple" in html
    assert org.category.name in html and org.region.name in html
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "style=" not in html
    assert '<meta name="htmx-config"' in html and '"includeIndicatorStyles": false' in html


@pytest.mark.django_db
def test_a_valid_submission_redirects_to_the_receipt_which_shows_the_code_once(org):
    client = Client()
    response = client.post(SUBMIT, {**VALID, "category": org.category.code, "region": org.region.pk})
    assert response.status_code == 302
    assert response["Location"] == RECEIPT
    case = Case.objects.get()
    assert (case.channel, case.category_id, case.region_id) == ("web", org.category.pk, org.region.pk)
    assert case.contact.phone == "13700137000"

    first = client.get(RECEIPT)
    html = text_of(first)
    assert case.tracking_number in html
    code = html.split('id="receipt-code">', 1)[1].split("<", 1)[0]
    assert check_query_code(code, case.query_code_hash)
    assert "仅显示这一次" in html
    assert "no-store" in first["Cache-Control"]
    assert 'class="lang-switch"' not in html  # switching language would reload the page and lose the code

    again = text_of(client.get(RECEIPT))
    assert case.tracking_number in again
    assert code not in again
    assert "现已不再显示" in again
    assert 'class="lang-switch"' in again


@pytest.mark.django_db
def test_receipt_without_a_submission_sends_back_to_the_form():
    response = Client().get(RECEIPT)
    assert response.status_code == 302
    assert response["Location"] == SUBMIT


@pytest.mark.django_db
def test_csrf_is_enforced_on_the_public_form():
    response = Client(enforce_csrf_checks=True).post(SUBMIT, VALID)
    assert response.status_code == 403
    assert Case.objects.count() == 0


@pytest.mark.django_db
def test_anonymous_submission_keeps_no_contact_details():
    response = Client().post(SUBMIT, {**VALID, "is_anonymous": "on"})
    assert response.status_code == 302
    case = Case.objects.get()
    assert case.is_anonymous
    assert not CaseContact.objects.filter(case=case).exists()


@pytest.mark.django_db
def test_control_bidi_and_zero_width_characters_are_stripped_from_the_title():
    title = "\u202e电梯\u200b停运\x07\u2066问题\u2069\ufeff"
    assert Client().post(SUBMIT, {**VALID, "title": title}).status_code == 302
    assert Case.objects.get().title == "电梯停运问题"


@pytest.mark.django_db
def test_attachments_are_stored_when_valid():
    upload = SimpleUploadedFile("现场.png", PNG, content_type="image/png")
    response = Client().post(SUBMIT, {**VALID, "attachments": [upload]})
    assert response.status_code == 302
    attachment = Attachment.objects.get()
    assert (attachment.original_name, attachment.size, attachment.content_type) == (
        "现场.png",
        len(PNG),
        "image/png",
    )


# ---------------------------------------------------------------------------------------------- refusals


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"title": ""}, "请填写标题"),
        ({"title": "   \t  "}, "请填写标题"),
        ({"title": "\u200b\u200d\u2060"}, "请填写标题"),
        ({"content": ""}, "请填写诉求内容"),
        ({"content": " \n\t "}, "请填写诉求内容"),
        ({"content": "\u200b\u200b"}, "请填写诉求内容"),
        ({"content": "长" * 20001}, "诉求内容不能超过 20000 字"),
        ({"title": "题" * 201}, "标题不能超过 200 字"),
        ({"kind": "bribe"}, "诉求类型“bribe”不存在"),
        ({"category": "no-such-category"}, "分类“no-such-category”不存在"),
        ({"region": "987654"}, "区域“987654”不存在"),
        ({"contact_email": "not-an-email"}, "电子邮件地址格式不正确"),
        ({"contact_phone": "<script>"}, "电话号码格式不正确"),
        ({"content": "正文\x00含空字符"}, "空字符"),
    ],
)
def test_bad_input_is_refused_with_a_chinese_message_and_nothing_stored(org, changes, message):
    response = Client().post(SUBMIT, {**VALID, **changes})
    assert_refused(response, message)


@pytest.mark.django_db
def test_an_oversized_body_is_refused_without_storing_anything(settings):
    content = "长" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 3 + 10)  # beyond the request body limit
    response = Client().post(SUBMIT, {**VALID, "content": content})
    assert_refused(response, "没有保存任何内容")
    assert response.status_code == 400


@pytest.mark.django_db
def test_errors_keep_the_users_input_and_show_it_escaped():
    content = "<script>alert('x')</script> 楼道堆放杂物"
    response = Client().post(SUBMIT, {**VALID, "title": "", "content": content})
    assert_refused(response, "请填写标题")
    html = text_of(response)
    assert "<script>alert(" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; 楼道堆放杂物" in html
    assert 'value="13700137000"' in html  # contact preserved
    assert 'id="id_title_error"' in html and 'aria-invalid="true"' in html


@pytest.mark.django_db
def test_errors_are_in_the_users_language():
    response = Client().post(SUBMIT, {**VALID, "title": ""}, headers={"Accept-Language": "en"})
    assert_refused(response, "Please enter a title.")
    assert '<html lang="en"' in text_of(response)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("程序.exe", b"MZ\x90\x00", "不支持的附件类型"),
        ("照片.png", b"<html>not an image</html>", "内容与类型不符"),
        ("空.pdf", b"", "内容与类型不符"),
        ("无扩展名", PNG, "不支持的附件类型"),
    ],
)
def test_bad_attachments_are_refused(name, content, message):
    upload = SimpleUploadedFile(name, content)
    response = Client().post(SUBMIT, {**VALID, "attachments": [upload]})
    assert_refused(response, message)


@pytest.mark.django_db
def test_an_oversized_attachment_is_refused(settings):
    settings.MINYI_ATTACHMENT_MAX_BYTES = 1024 * 1024
    upload = SimpleUploadedFile("大图.png", PNG + b"\x00" * (1024 * 1024))
    response = Client().post(SUBMIT, {**VALID, "attachments": [upload]})
    assert_refused(response, "超过 1 MB")


@pytest.mark.django_db
def test_too_many_attachments_are_refused(settings):
    files = [SimpleUploadedFile(f"{i}.png", PNG) for i in range(settings.MINYI_ATTACHMENT_MAX_COUNT + 1)]
    response = Client().post(SUBMIT, {**VALID, "attachments": files})
    assert_refused(response, f"附件不能超过 {settings.MINYI_ATTACHMENT_MAX_COUNT} 个")


def test_uploads_are_read_only_up_to_the_limit_plus_one_byte(settings):
    settings.MINYI_ATTACHMENT_MAX_BYTES = 100
    request = RequestFactory().post(
        SUBMIT, {"attachments": [SimpleUploadedFile("big.png", PNG + b"\x00" * 10_000)]}
    )
    (upload,) = uploads_from(request)
    assert upload.name == "big.png"
    assert len(upload.content) == 101


@pytest.mark.django_db
def test_invalid_utf8_in_a_urlencoded_body_is_refused():
    fields = {**VALID, "title": "小区噪音"}
    body = "&".join(
        f"{key}={quote_from_bytes(value.encode('gb18030' if key == 'title' else 'utf-8'))}"
        for key, value in fields.items()
    )
    response = Client().post(SUBMIT, body.encode(), content_type="application/x-www-form-urlencoded")
    assert_refused(response, "不是有效的 UTF-8 编码")


@pytest.mark.django_db
def test_invalid_utf8_in_a_multipart_body_is_refused():
    boundary = "----minyi-test-boundary"
    parts = []
    fields = {**VALID, "content": "社區路燈壞了很久，晚上很危險"}
    for key, value in fields.items():
        encoded = value.encode("big5") if key == "content" else value.encode()
        header = f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'
        parts.append(header.encode() + encoded + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    response = Client().post(SUBMIT, body, content_type=f"multipart/form-data; boundary={boundary}")
    assert_refused(response, "不是有效的 UTF-8 编码")


@pytest.mark.django_db
def test_submissions_are_rate_limited_per_address(settings):
    settings.MINYI_RATE_LIMITS = {**settings.MINYI_RATE_LIMITS, "submit": "2/m"}
    client = Client()
    assert client.post(SUBMIT, VALID).status_code == 302
    assert client.post(SUBMIT, {**VALID, "title": ""}).status_code == 400  # refusals count too
    response = client.post(SUBMIT, VALID)
    assert response.status_code == 429
    assert "请求过于频繁" in text_of(response)
    assert response["Retry-After"] == "60"
    assert Case.objects.count() == 1
    assert client.get(SUBMIT).status_code == 200  # reading the form is not limited


# ---------------------------------------------------------------------------------------------- staff log


@pytest.mark.django_db
def test_intake_officer_logs_a_phone_call_and_reads_out_the_code(org):
    client = Client()
    client.force_login(org.intake)
    assert client.get(reverse("intake:log")).status_code == 200
    response = client.post(reverse("intake:log"), {**VALID, "channel": "phone", "priority": "urgent"})
    assert response.status_code == 302
    assert response["Location"] == reverse("intake:log_receipt")
    case = Case.objects.get()
    assert (case.channel, case.priority, case.logged_by_id) == ("phone", "urgent", org.intake.pk)
    html = text_of(client.get(reverse("intake:log_receipt")))
    code = html.split('id="receipt-code">', 1)[1].split("<", 1)[0]
    assert check_query_code(code, case.query_code_hash)
    assert reverse("cases:detail", args=[case.pk]) in html
    assert code not in text_of(client.get(reverse("intake:log_receipt")))


@pytest.mark.django_db
def test_staff_log_refuses_a_public_channel(org):
    client = Client()
    client.force_login(org.dispatcher)
    response = client.post(reverse("intake:log"), {**VALID, "channel": "web", "priority": "ordinary"})
    assert response.status_code == 400
    assert Case.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "status"), [("handler_a", 404), ("leader", 404), ("citizen", 404)])
def test_staff_log_is_for_intake_dispatch_and_supervision_only(org, role, status):
    client = Client()
    client.force_login(getattr(org, role))
    assert client.get(reverse("intake:log")).status_code == status
    assert client.post(reverse("intake:log"), {**VALID, "channel": "phone"}).status_code == status
    assert Case.objects.count() == 0


@pytest.mark.django_db
def test_staff_log_requires_login():
    response = Client().get(reverse("intake:log"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# ---------------------------------------------------------------------------------------------- publication opt-out


@pytest.mark.django_db
def test_the_form_offers_the_opt_out_and_it_is_stored(org):
    client = Client()
    html = text_of(client.get(SUBMIT))
    assert 'name="no_publication"' in html and "不同意公开我的诉求" in html
    assert client.post(SUBMIT, {**VALID, "no_publication": "on"}).status_code == 302
    assert Case.objects.get().publication_consent is False


@pytest.mark.django_db
def test_without_the_opt_out_the_person_consents(org):
    assert Client().post(SUBMIT, VALID).status_code == 302
    assert Case.objects.get().publication_consent is True


@pytest.mark.django_db
def test_an_opted_out_web_appeal_is_never_published(org):
    from minyi.cases.tests.factories import act, drive
    from minyi.disclosure import publication
    from minyi.disclosure.models import Publication

    assert Client().post(SUBMIT, {**VALID, "no_publication": "on"}).status_code == 302
    case, clock = drive(Case.objects.get(), "in_progress", org)
    act(case, "reply", org.handler_a, data={"text": "已修复。"}, now=clock)
    pub = publication.refresh(case_id=case.pk)
    assert (pub.state, pub.hold_reason) == (Publication.State.HELD, Publication.Hold.NO_CONSENT)


@pytest.mark.django_db
def test_staff_record_the_callers_opt_out(org):
    client = Client()
    client.force_login(org.intake)
    assert 'name="no_publication"' in text_of(client.get(reverse("intake:log")))
    response = client.post(
        reverse("intake:log"), {**VALID, "channel": "phone", "priority": "ordinary", "no_publication": "on"}
    )
    assert response.status_code == 302
    assert Case.objects.get().publication_consent is False
