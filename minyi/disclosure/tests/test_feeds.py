"""Atom feeds of the board: all, per category, per region; newest first, at most 50; published cases only;
and whatever the masked text holds, the feed is well-formed XML with no markup in it."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from minyi.accounts.models import Region
from minyi.cases.tests.factories import NOW, SHANGHAI, CategoryFactory, RegionFactory
from minyi.disclosure import board
from minyi.disclosure.models import Publication
from minyi.disclosure.tests.helpers import make_published

ATOM = "{http://www.w3.org/2005/Atom}"


def parse(response) -> ET.Element:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    return ET.fromstring(response.content)


def entry_links(root: ET.Element) -> list[str]:
    return [e.find(f"{ATOM}link").get("href") for e in root.iter(f"{ATOM}entry")]


def case_link(pk: int) -> str:
    return f"http://127.0.0.1:8000{reverse('disclosure:board_case', args=[pk])}"


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.MINYI_SITE_URL = "http://127.0.0.1:8000"


@pytest.mark.django_db
def test_the_feed_holds_the_newest_published_cases(db):
    pubs = [make_published(title=f"诉求{i}", published_at=NOW + timedelta(minutes=i)) for i in range(3)]
    make_published(title="暂不公开", state=Publication.State.HELD)
    root = parse(Client().get(reverse("disclosure:board_feed")))
    assert root.tag == f"{ATOM}feed"
    assert entry_links(root) == [case_link(p.pk) for p in reversed(pubs)]
    titles = [e.findtext(f"{ATOM}title") for e in root.iter(f"{ATOM}entry")]
    assert titles == ["诉求2", "诉求1", "诉求0"]
    assert root.find(f"{ATOM}link[@rel='self']").get("href").endswith(reverse("disclosure:board_feed"))
    assert all(e.findtext(f"{ATOM}updated") for e in root.iter(f"{ATOM}entry"))


@pytest.mark.django_db
def test_the_feed_stops_at_feed_size(db, monkeypatch):
    monkeypatch.setattr(board, "FEED_SIZE", 3)
    pubs = [make_published(published_at=NOW + timedelta(minutes=i)) for i in range(5)]
    links = entry_links(parse(Client().get(reverse("disclosure:board_feed"))))
    assert links == [case_link(p.pk) for p in reversed(pubs[2:])]


def test_the_feed_size_is_fifty():
    assert board.FEED_SIZE == 50


@pytest.mark.django_db
def test_category_and_region_feeds_cover_their_sub_trees(org):
    parent = CategoryFactory(name="城乡建设", code="urban")
    child = CategoryFactory(name="住房保障", code="housing", parent=parent)
    street = RegionFactory(name="江北街道", code="jc-jb-1", parent=org.region, level=Region.Level.STREET)
    elsewhere = RegionFactory(name="江南区", code="jc-jn", parent=org.region.parent)
    in_child = make_published(category=child, region=street, published_at=NOW)
    in_parent = make_published(category=parent, region=org.region, published_at=NOW + timedelta(minutes=1))
    other = make_published(category=org.category, region=elsewhere, published_at=NOW + timedelta(minutes=2))
    client = Client()

    urban = parse(client.get(reverse("disclosure:board_feed_category", args=["urban"])))
    assert entry_links(urban) == [case_link(in_parent.pk), case_link(in_child.pk)]
    assert "城乡建设" in urban.findtext(f"{ATOM}title")
    housing = parse(client.get(reverse("disclosure:board_feed_category", args=["housing"])))
    assert entry_links(housing) == [case_link(in_child.pk)]
    north = parse(client.get(reverse("disclosure:board_feed_region", args=["jc-jb"])))
    assert entry_links(north) == [case_link(in_parent.pk), case_link(in_child.pk)]
    city = parse(client.get(reverse("disclosure:board_feed_region", args=["jc"])))
    assert entry_links(city) == [case_link(p.pk) for p in (other, in_parent, in_child)]


@pytest.mark.django_db
def test_unknown_codes_are_404(org):
    client = Client()
    assert client.get(reverse("disclosure:board_feed_category", args=["nope"])).status_code == 404
    assert client.get(reverse("disclosure:board_feed_region", args=["nowhere"])).status_code == 404
    assert client.get("/board/feed/category/" + "a" * 200 + "/").status_code == 404


HOSTILE = (
    # every control character XML 1.0 forbids, but NUL (which PostgreSQL cannot store, and intake removes)
    "<script>alert(1)</script> ]]> &amp; & <![CDATA[x]]> \x01\x08\x0b\x0c\x1b\x1f \ufffe\uffff "
    "\u202eevil\u202c \u2066x\u2069 \u200b \"quoted\" 'single' <b onmouseover=alert(2)>bold</b>"
)


@pytest.mark.django_db
def test_a_feed_from_hostile_text_parses_and_holds_no_markup(org):
    # given: hostile masked texts, and names of a category and region as hostile as the admin allows
    category = CategoryFactory(name="<i>分类</i>\x07", code="evil")
    pub = make_published(
        title=HOSTILE, content=HOSTILE, category=category, region=org.region, published_at=NOW
    )
    assert pub.title == HOSTILE

    for url in (
        reverse("disclosure:board_feed"),
        reverse("disclosure:board_feed_category", args=["evil"]),
        reverse("disclosure:board_feed_region", args=["jc-jb"]),
    ):
        response = Client().get(url)
        raw = response.content.decode("utf-8")

        # then: well-formed XML (ElementTree refuses control characters and bad markup)
        root = parse(response)
        entry = root.find(f"{ATOM}entry")
        title = entry.findtext(f"{ATOM}title")
        summary = entry.find(f"{ATOM}summary")

        # no raw markup anywhere in the document: every < of the text is escaped
        for markup in ("<script", "<b ", "<i>", "<![CDATA[x", "]]> &"):
            assert markup not in raw
        for invisible in ("\x00", "\x01", "\x1b", "\ufffe", "\u202e", "\u2066", "\u200b"):
            assert invisible not in raw
        # the title is plain text: the reader shows the characters, never runs them
        assert title.startswith("<script>alert(1)</script> ]]> &amp; & <![CDATA[x]]>")
        assert entry.find(f"{ATOM}title").get("type") in (None, "text")
        # the summary is HTML for the reader: the text's markup reaches it escaped, as text
        assert summary.get("type") == "html"
        assert "<script" not in summary.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in summary.text
        assert "&lt;b onmouseover=alert(2)&gt;" in summary.text
        assert not list(summary)  # no child elements


@pytest.mark.django_db
def test_the_board_page_links_the_feeds(org):
    make_published(category=org.category, published_at=NOW)
    html = Client().get(reverse("disclosure:board"), {"category": org.category.code}).content.decode()
    assert (
        f'<link rel="alternate" type="application/atom+xml" title="留言板：最新公开" href="{reverse("disclosure:board_feed")}">'
        in html
    )
    assert reverse("disclosure:board_feed_category", args=[org.category.code]) in html


def test_feed_times_are_aware():
    item = Publication(published_at=datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI), updated_at=None)
    from minyi.disclosure.feeds import BoardFeed

    assert BoardFeed().item_updateddate(item) == item.published_at
