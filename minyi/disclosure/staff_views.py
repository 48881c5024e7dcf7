"""Placeholder: being written (issue 5)."""

from django.http import Http404


def publication_panel(request, *args, **kwargs):
    raise Http404


def publication_action(request, *args, **kwargs):
    raise Http404
