from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "minyi.routing"
    label = "routing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from minyi.accounts.models import Region
        from minyi.routing.models import Place

        # Cache busting only: the place finder's copy of regions and places is rebuilt after a change.
        for model in (Region, Place):
            post_save.connect(
                _gazetteer_changed, sender=model, dispatch_uid=f"gazetteer-save-{model.__name__}"
            )
            post_delete.connect(
                _gazetteer_changed, sender=model, dispatch_uid=f"gazetteer-delete-{model.__name__}"
            )


def _gazetteer_changed(sender, **kwargs) -> None:
    from django.db import transaction

    from minyi.routing.services import gazetteer_changed

    # Now, for this process's own reads inside the transaction; and again after the commit, so that another
    # process that rebuilt from the old rows in between does not keep them.
    gazetteer_changed()
    transaction.on_commit(gazetteer_changed)
