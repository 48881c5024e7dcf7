"""Placeholder: being written (issue 5)."""

urlpatterns: list = []
