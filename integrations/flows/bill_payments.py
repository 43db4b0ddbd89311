"""BILL payments as source records: the webhook inbox first, then polling as the fallback.

``fetch`` yields, in order,

1. the payments named by ``payment.*`` events in the inbox (``WebhookEvent``, filled by
   ``integrations.api.webhooks``) that no cycle took yet, each read back from BILL with a GET, as
   BILL advises (a webhook is a hint, not the truth; reading the payment also makes out-of-order
   and repeated events harmless: every one of them yields the payment as it is now). The events
   are marked processed once their batches are stored (``after_store``);
2. every payment updated since the cursor ``payments_since`` (``GET /v3/payments`` filtered on
   ``updatedTime``), so a missed, late or disabled webhook loses nothing.

Only payments in a paid status (option ``paid_statuses``, default ``["PAID"]``) are records: a
scheduled one becomes a record when it is paid, a failed one never posts. The first poll starts at
the option ``start_date`` (ISO date; none: every payment BILL has).
"""

from datetime import timedelta

from django.db.models import Max
from django.utils import timezone

from ..models import WebhookEvent
from ..systems.errors import NotFound
from .base import Page, SourceRecord

PAGE_SIZE = 100


class BillPayments:
    """Mixed into a FlowHandler whose ``open`` sets ``self.bill`` (a BillClient on ``flow.source``)."""

    source_kind = "bill_payment"
    volatile_fields = ("updatedTime",)

    def paid(self, payment):
        return str(payment.get("status") or "").upper() in {s.upper() for s in self.options.get("paid_statuses") or ["PAID"]}

    def summary(self, payment):
        return f"{payment.get('vendorName') or payment.get('vendorId')}: {payment.get('amount')} ({payment.get('processDate')})"

    def fetch(self, cursor):
        offered = set()  # payments the inbox gave this cycle: the poll does not offer them a second time
        for page in self.inbox_pages():
            offered.update(r.id for r in page.records)
            yield page
        since = cursor.get("payments_since") or self.options.get("start_date")
        batch, newest = [], since
        for payment in self.bill.each_payment(updated_since=since):
            newest = max(newest or "", payment.updated or "") or newest
            if self.paid(payment.raw) and payment.id not in offered:
                batch.append(SourceRecord(payment.id, payment.raw, self.summary(payment.raw)))
            if len(batch) >= PAGE_SIZE:
                page, batch = Page(batch, {"payments_since": newest}), []
                yield page
                page = None  # stored by now: not held while the next page is read
        yield Page(batch, {"payments_since": newest} if newest else {})

    def inbox_pages(self):
        events = list(
            WebhookEvent.objects.filter(
                connection=self.flow.source, processed_at__isnull=True, event_type__startswith="payment."
            ).order_by("occurred_at", "pk")[:500]
        )
        by_payment = {}
        for event in events:
            by_payment.setdefault(event.entity_id, []).append(event.pk)
        records, taken = [], []
        for payment_id, event_pks in by_payment.items():
            taken += event_pks
            if not payment_id:
                continue
            try:
                payment = self.bill.payment(payment_id)  # confirm with a GET: the event is only a hint
            except NotFound:
                self.log(f"BILL payment {payment_id} of a webhook event does not exist (any more): nothing to post")
                continue
            if self.paid(payment.raw):
                records.append(SourceRecord(payment.id, payment.raw, self.summary(payment.raw)))
        self._inbox_taken = taken
        if taken:
            yield Page(records)

    def after_store(self, page):
        taken, self._inbox_taken = getattr(self, "_inbox_taken", []), []
        if taken and not page.cursor:
            WebhookEvent.objects.filter(pk__in=taken, processed_at__isnull=True).update(processed_at=timezone.now())
            self.prune_inbox()

    def prune_inbox(self):
        """Forget processed events older than the replay window before the newest: the endpoint refuses any
        event that old by its timestamp, so their ids are no longer needed to recognise a replay."""
        from ..api.webhooks import DEFAULT_WINDOW_SECONDS

        inbox = WebhookEvent.objects.filter(connection=self.flow.source)
        newest = inbox.aggregate(newest=Max("occurred_at"))["newest"]
        if newest is not None:
            window = float((self.flow.source.options or {}).get("webhook_window_seconds") or DEFAULT_WINDOW_SECONDS)
            inbox.filter(processed_at__isnull=False, occurred_at__lt=newest - timedelta(seconds=window)).delete()

    def fetch_record(self, source_id):
        try:
            payment = self.bill.payment(source_id)
        except NotFound:
            return None
        return SourceRecord(payment.id, payment.raw, self.summary(payment.raw))
