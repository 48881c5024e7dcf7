from django.db import migrations

# The defaults of ARCHITECTURE.md §3, written out here because migrations never import app code.
KINDS = ["complaint", "help", "question", "suggestion", "praise", "petition"]


def load(apps, schema_editor):
    SlaPolicy = apps.get_model("routing", "SlaPolicy")
    for kind in KINDS:
        for priority in ("ordinary", "urgent"):
            if kind == "petition":
                values = {"unit": "calendar_days", "accept_within": 15, "handle_within": 60}
            elif priority == "urgent":
                values = {"unit": "hours", "accept_within": 2, "handle_within": 24}
            else:
                values = {"unit": "working_days", "accept_within": 1, "handle_within": 5}
            SlaPolicy.objects.get_or_create(
                kind=kind,
                priority=priority,
                defaults={
                    **values,
                    "extension_max_days": 30,
                    "extension_max_count": 1,
                    "review_request_days": 30,
                    "review_decide_days": 30,
                    "evaluation_days": 7,
                },
            )


class Migration(migrations.Migration):
    dependencies = [("routing", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
