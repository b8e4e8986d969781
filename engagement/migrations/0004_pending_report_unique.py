# Pending (early) delivery reports: one per provider id, kind and status, so a replayed report
# for an unknown message is kept once. Duplicates kept before the constraint are dropped first
# (the earliest of each stays: applying a status twice changed nothing anyway).

from django.db import migrations, models
from django.db.models import Min


def drop_duplicate_reports(apps, schema_editor):
    EarlyDeliveryReport = apps.get_model("engagement", "EarlyDeliveryReport")
    keep = (
        EarlyDeliveryReport.objects.values("provider_message_id", "kind", "status")
        .annotate(first_id=Min("id"))
        .values("first_id")
    )
    EarlyDeliveryReport.objects.exclude(id__in=keep).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("engagement", "0003_early_delivery_reports"),
    ]

    operations = [
        migrations.RunPython(drop_duplicate_reports, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="earlydeliveryreport",
            constraint=models.UniqueConstraint(
                fields=("provider_message_id", "kind", "status"), name="early_report_unique"
            ),
        ),
    ]
