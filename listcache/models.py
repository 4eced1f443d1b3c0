from django.db import models


class ListVersion(models.Model):
    """One row: the version of the public lists' cache when that cache is per process
    (no Redis), so every process sees a change made by any other (listcache/services.py)."""

    value = models.BigIntegerField(default=0)

    class Meta:
        # Made by doctor's migration 0006, before the cache became an app of its own.
        db_table = "doctor_listversion"

    def __str__(self):
        return f"List version {self.value}"
