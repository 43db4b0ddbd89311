from django.apps import AppConfig


class MappingsConfig(AppConfig):
    name = "mappings"
    verbose_name = "GL mappings"

    def ready(self):
        from . import audit

        audit.connect()
