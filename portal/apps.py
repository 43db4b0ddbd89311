from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Tenants and access"

    def ready(self):
        from . import checks  # noqa: F401  (registers the tenant-scoped admin check)
