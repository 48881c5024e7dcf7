"""The public pages in the three languages, switched with the language switcher (Django's set_language),
and the portal on a phone-sized screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def switch_to(page, language: str) -> None:
    page.locator(f".lang-switch button[value={language}]").click()
    expect(page.locator("html")).to_have_attribute("lang", language)


def test_portal_and_form_in_traditional_chinese_and_english(browsers, org):
    browsers.first_shot = 30
    page = browsers.page()
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator(".lang-switch button.active")).to_have_text("简体中文")

    switch_to(page, "zh-hant")
    expect(page).to_have_url(browsers.base_url + "/")  # set_language sent us back where we were
    expect(page.locator(".lang-switch button.active")).to_have_text("繁體中文")
    browsers.shot(page, "portal-zh-hant")
    page.goto("/submit/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hant")  # the choice is kept
    expect(page.locator("select[name=kind] option[value=complaint]")).to_have_text("投訴")
    expect(page.locator("select[name=kind] option[value=help]")).to_have_text("求助")
    browsers.shot(page, "submit-zh-hant")

    switch_to(page, "en")
    expect(page).to_have_url(browsers.base_url + "/submit/")
    expect(page.locator("select[name=kind] option[value=complaint]")).to_have_text("Complaint")
    browsers.shot(page, "submit-en")
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    browsers.shot(page, "portal-en")

    # an error on the form comes back in the chosen language
    page.goto("/submit/")
    page.locator("form[action='/submit/'] button[type=submit]").click()
    expect(page.locator("#id_title_error")).to_have_text("Please enter a title.")

    switch_to(page, "zh-hans")
    expect(page.locator("select[name=kind] option[value=complaint]")).to_have_text("投诉")


def test_portal_on_a_phone(browsers):
    browsers.first_shot = 40
    page = browsers.page(viewport={"width": 390, "height": 844})
    page.goto("/")
    submit = page.get_by_role("link", name="我要反映").last
    expect(submit).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, (
        "the portal scrolls sideways on a phone"
    )
    browsers.shot(page, "portal-phone")
    page.goto("/submit/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, (
        "the form scrolls sideways on a phone"
    )
    browsers.shot(page, "submit-phone")
