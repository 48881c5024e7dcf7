"""Placeholder: being written (issue 5)."""

from django.http import Http404


class _Placeholder:
    def __call__(self, request, *args, **kwargs):
        raise Http404


BoardFeed = CategoryFeed = RegionFeed = _Placeholder
