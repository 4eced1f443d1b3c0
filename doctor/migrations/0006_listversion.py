from django.db import migrations, models


def first_row(apps, schema_editor):
    apps.get_model("doctor", "ListVersion").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [
        ("doctor", "0005_merge_0004_clinic_policy_0004_waitlist"),
    ]

    operations = [
        migrations.CreateModel(
            name="ListVersion",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("value", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(first_row, migrations.RunPython.noop),
    ]
