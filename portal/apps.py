from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Tenants and access"

    def ready(self):
        # Registers the tenant-scoped admin check, the role groups and membership -> group signals.
        from . import checks, login_throttle, signals  # noqa: F401

        login_throttle.connect()
