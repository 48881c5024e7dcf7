"""Placeholder: being written (issue 5)."""

from django.http import Http404


def scoreboard(request, *args, **kwargs):
    raise Http404


def department_trend(request, *args, **kwargs):
    raise Http404


def region_trend(request, *args, **kwargs):
    raise Http404
