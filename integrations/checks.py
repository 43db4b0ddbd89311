"""'Check connection': one cheap authenticated call per system, result stored on the Connection."""

from django.utils import timezone

from audit import log as audit
from portal.scrub import scrub

from .systems.errors import IntegrationError
from .systems.registry import NON_SECRET_KEYS


def connection_secrets(connection):
    """The secret values of a connection's credentials (identifiers are no secret)."""
    return [str(v) for k, v in (connection.credentials or {}).items() if k not in NON_SECRET_KEYS and v]


def _probe(connection):
    if connection.system == "expensify":
        from .systems.expensify import ExpensifyClient

        policies = ExpensifyClient(connection).list_policies()
        return f"authenticated; {len(policies)} policies visible"
    if connection.system == "jde":
        from .systems.jde import JdeClient

        JdeClient(connection).ensure_token()
        return "authenticated; AIS token issued"
    if connection.system == "acumatica":
        from .systems.acumatica import AcumaticaClient

        client = AcumaticaClient(connection)
        client.ensure_token()
        client.check_version()
        return f"authenticated; endpoint {client.endpoint_name}/{client.endpoint_version} published"
    if connection.system == "ifs":
        from .systems.ifs import IfsClient

        template, _ = IfsClient(connection).read_template()
        return f"authenticated; voucher template {template.get('Template')} readable"
    raise IntegrationError(f"no connection check for {connection.get_system_display()} yet", code="CHECK-UNSUPPORTED")


def check_connection(connection, user=None):
    try:
        message, ok = _probe(connection), True
    except IntegrationError as exc:
        message, ok = f"[{exc.code}] {exc.message}", False
    message = scrub(message, connection_secrets(connection))
    connection.last_check_ok = ok
    connection.last_check_at = timezone.now()
    connection.last_check_message = message[:2000]
    type(connection).objects.filter(pk=connection.pk).update(
        last_check_ok=ok, last_check_at=connection.last_check_at, last_check_message=connection.last_check_message)
    audit.record(connection.tenant_id, "connection.checked", actor=audit.actor_name(user),
                 source_ref=f"connection:{connection.pk}", message=f"{connection.name}: {message}", after={"ok": ok})
    return ok, message
