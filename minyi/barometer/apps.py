from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BarometerConfig(AppConfig):
    name = "minyi.barometer"
    label = "barometer"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = _("晴雨表")

    def ready(self) -> None:
        from minyi.barometer import receivers

        receivers.connect()
