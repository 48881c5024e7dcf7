"""Placeholder: being written (issue 5)."""

from django.http import Http404


def feedback(request, *args, **kwargs):
    raise Http404
