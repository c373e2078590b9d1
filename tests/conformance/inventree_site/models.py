"""InvenTree's global settings table, as an unmanaged model: the table is InvenTree's (made by the
test fixture, never by this site's migrations), the ORM only reads and writes rows — what an
admin's `manage.py shell -c` script does with InvenTreeSetting."""

from __future__ import annotations

from django.db import models


class InvenTreeSetting(models.Model):
    key = models.CharField(max_length=50, unique=True)
    value = models.CharField(max_length=2000, blank=True)

    class Meta:
        managed = False
        db_table = "common_inventreesetting"
        app_label = "inventree_site"

    def __str__(self) -> str:
        return f"{self.key} = {self.value!r}"
