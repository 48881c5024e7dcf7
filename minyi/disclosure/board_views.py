"""Placeholder: being written (issue 5)."""

from django.http import Http404


def board_list(request, *args, **kwargs):
    raise Http404


def board_case(request, *args, **kwargs):
    raise Http404


def board_support(request, *args, **kwargs):
    raise Http404
