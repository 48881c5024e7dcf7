from django.apps import AppConfig


class DisclosureConfig(AppConfig):
    name = "minyi.disclosure"
    label = "disclosure"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from minyi.cases.signals import case_changed
        from minyi.disclosure.signals import invite_feedback, refresh_publication

        case_changed.connect(refresh_publication, dispatch_uid="minyi.disclosure.refresh_publication")
        case_changed.connect(invite_feedback, dispatch_uid="minyi.disclosure.invite_feedback")
