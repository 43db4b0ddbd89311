"""The BILL webhook subscription of a connection, created and its key rotated from the connection admin.

BILL shows a subscription's security key once, in the create (or rotate) answer
(shared/reference/bill.md, "Webhooks"): it goes straight into the connection's encrypted
credentials as ``webhook_secret`` (what ``integrations.api.webhooks`` verifies with) and is never
shown, logged or audited. The subscription id is kept in the option ``webhook_subscription_id``.
"""

from django.urls import reverse

from audit import log as audit

from .systems.bill import BillClient

EVENTS = ["payment.updated", "payment.failed"]


def notification_url(request, connection):
    return request.build_absolute_uri(reverse("webhook-bill", kwargs={"connection_id": connection.pk}))


def subscribe(connection, url, *, actor):
    """Subscribe ``url`` to BILL's payment events (or rotate the key of the subscription already made)."""
    current = (connection.options or {}).get("webhook_subscription_id")
    if current:
        return rotate(connection, actor=actor)
    sub = BillClient(connection).create_subscription("ml-connector", url, EVENTS)
    _keep(connection, sub.security_key, sub.id)
    audit.record(
        connection.tenant_id,
        "webhook.subscribed",
        actor=actor,
        target_ref=f"connection:{connection.pk}",
        message=f"BILL subscription {sub.id} to {', '.join(EVENTS)} sends to {url}; its key is stored encrypted",
    )
    return sub.id


def rotate(connection, *, actor):
    sub_id = connection.options["webhook_subscription_id"]
    key = BillClient(connection).rotate_security_key(sub_id)
    _keep(connection, key, sub_id)
    audit.record(
        connection.tenant_id,
        "webhook.key_rotated",
        actor=actor,
        target_ref=f"connection:{connection.pk}",
        message=f"BILL subscription {sub_id}: new security key stored encrypted; the old one no longer verifies",
    )
    return sub_id


def _keep(connection, key, sub_id):
    connection.credentials = {**(connection.credentials or {}), "webhook_secret": key}
    connection.options = {**(connection.options or {}), "webhook_subscription_id": sub_id}
    connection.save(update_fields=["credentials", "options"])
