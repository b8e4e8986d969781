# The import's seen-phone bookkeeping keyed by (job, phone): one index per row instead of two, and
# no foreign-key check per row. The rows only live while an import runs, so the table is recreated.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("sendinglists", "0005_audience_indexes"),
    ]

    operations = [
        migrations.DeleteModel(name="ImportSeenPhone"),
        migrations.CreateModel(
            name="ImportSeenPhone",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "job", "phone", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                (
                    "job",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="sendinglists.importjob",
                    ),
                ),
                ("phone", models.BigIntegerField()),
            ],
        ),
    ]
