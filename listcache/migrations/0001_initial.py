from django.db import migrations, models


class Migration(migrations.Migration):
    """ListVersion moves here from doctor: the table stays as it is (doctor 0006 made it)."""

    initial = True

    dependencies = [
        ("doctor", "0006_listversion"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ListVersion",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("value", models.BigIntegerField(default=0)),
                    ],
                    options={"db_table": "doctor_listversion"},
                ),
            ],
            database_operations=[],
        ),
    ]
