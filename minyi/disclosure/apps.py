from django.apps import AppConfig


class DisclosureConfig(AppConfig):
    name = "minyi.disclosure"
    label = "disclosure"
    default_auto_field = "django.db.models.BigAutoField"
