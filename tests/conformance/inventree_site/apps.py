from django.apps import AppConfig


class InvenTreeSiteConfig(AppConfig):
    name = "inventree_site"
    label = "inventree_site"
    default_auto_field = "django.db.models.AutoField"
