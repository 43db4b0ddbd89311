from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self):
        from . import signals  # noqa: F401  (flow schedule lifecycle)
        from .reference import register_loaders

        register_loaders()
