from django.db import migrations, models


def mark_tokens_with_lists_limited(apps, schema_editor):
    """Tokens created with lists were limited by having them; the flag now says so, so that deleting
    their lists can no longer widen them to every list."""
    ApiToken = apps.get_model("sendinglists", "ApiToken")
    ApiToken.objects.filter(sending_lists__isnull=False).update(limited_to_lists=True)


class Migration(migrations.Migration):
    dependencies = [
        ("sendinglists", "0013_listcontact_facets"),
    ]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="limited_to_lists",
            field=models.BooleanField(
                default=False,
                help_text="Sees only its sending lists (and nothing once they are all deleted); off: every list.",
            ),
        ),
        migrations.RunPython(mark_tokens_with_lists_limited, migrations.RunPython.noop),
    ]
