from django.apps import AppConfig


class DisclosureConfig(AppConfig):
    name = "minyi.disclosure"
    label = "disclosure"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from minyi.cases.signals import case_changed
        from minyi.disclosure.signals import on_case_changed

        case_changed.connect(on_case_changed, dispatch_uid="minyi.disclosure.on_case_changed")
