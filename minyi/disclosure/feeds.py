"""Atom feeds of the public board: all, per category and per region (with their sub-trees); the newest
FEED_SIZE published cases each.

Everything in a feed is escaped. The feed generator escapes XML, but XML 1.0 cannot hold control characters
(Django refuses them), lone surrogates or U+FFFE/U+FFFF, so every text goes through board.public_text, which
also drops bidi and zero-width characters. The entry summary is `type="html"`: a reader unescapes it once
and renders it as HTML, so the masked text is HTML-escaped first and reaches the reader as text, never markup.
Titles are plain text (`type` unset), escaped once by the generator.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.utils.html import escape, linebreaks
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from minyi.disclosure import board
from minyi.disclosure.models import Publication


def _absolute(path: str) -> str:
    return f"{settings.MINYI_SITE_URL}{path}"


class BoardFeed(Feed):
    feed_type = Atom1Feed

    def title(self, obj: board.Ref | None = None) -> str:
        return board.public_text(_("%(site)s留言板：最新公开") % {"site": settings.MINYI_SITE_NAME})

    def subtitle(self, obj: board.Ref | None = None) -> str:
        return _("已答复诉求的公开信息，个人信息已隐去。")

    def link(self, obj: board.Ref | None = None) -> str:
        return _absolute(reverse("disclosure:board"))

    def feed_url(self, obj: board.Ref | None = None) -> str:
        return _absolute(reverse("disclosure:board_feed"))

    def items(self, obj: board.Ref | None = None) -> list[Publication]:
        return board.board_feed_items()

    def item_title(self, item: Publication) -> str:
        return board.public_text(item.title)

    def item_description(self, item: Publication) -> str:
        _key, label = board.public_status(item.case_status)
        facts = [
            label,
            *(board.public_text(r.name) for r in (item.category, item.region, item.department) if r),
        ]
        return f"<p>{escape(' · '.join(facts))}</p>{linebreaks(escape(board.public_text(item.content)))}"

    def item_link(self, item: Publication) -> str:
        return _absolute(reverse("disclosure:board_case", args=[item.pk]))

    def item_guid(self, item: Publication) -> str:
        return self.item_link(item)

    def item_pubdate(self, item: Publication) -> datetime:
        return item.published_at

    def item_updateddate(self, item: Publication) -> datetime:
        return max(item.published_at, item.updated_at) if item.updated_at else item.published_at

    def item_categories(self, item: Publication) -> list[str]:
        return [board.public_text(item.category.name)] if item.category else []


class _SubsetFeed(BoardFeed):
    """A feed of one category or region and everything under it; an unknown code answers 404. Subclasses name
    the reference kind, the board's filter parameter, the URL and the message."""

    refs_kind = ""
    param = ""
    url_name = ""
    missing = ""

    def get_object(self, request: HttpRequest, code: str) -> board.Ref:
        ref = board.feed_ref(self.refs_kind, code)
        if ref is None:
            raise Http404(str(self.missing))
        return ref

    def title(self, obj: board.Ref | None = None) -> str:
        return board.public_text(
            _("%(site)s留言板：%(name)s")
            % {"site": settings.MINYI_SITE_NAME, "name": obj.name if obj else ""}
        )

    def link(self, obj: board.Ref | None = None) -> str:
        return _absolute(f"{reverse('disclosure:board')}?{self.param}={obj.code}") if obj else super().link()

    def feed_url(self, obj: board.Ref | None = None) -> str:
        return _absolute(reverse(self.url_name, args=[obj.code])) if obj else super().feed_url()

    def items(self, obj: board.Ref | None = None) -> list[Publication]:
        return board.board_feed_items(**{self.param: obj})


class CategoryFeed(_SubsetFeed):
    """/board/feed/category/<code>/: a category and its sub-categories."""

    refs_kind, param, url_name = "categories", "category", "disclosure:board_feed_category"
    missing = gettext_lazy("没有这个分类。")


class RegionFeed(_SubsetFeed):
    """/board/feed/region/<code>/: a region and every place in it."""

    refs_kind, param, url_name = "regions", "region", "disclosure:board_feed_region"
    missing = gettext_lazy("没有这个区域。")
