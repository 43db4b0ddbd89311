"""Why a batch is held, line by line: which source line(s) and field, with the source values.

General over flows: the flow's handler lists the record's lines (``FlowHandler.source_lines``)
and maps one line from the portal's own data (``FlowHandler.check_line``). A line is at fault
when mapping it holds, or when the hold message names its id ("line 2", a transaction id), the
account it maps to (written in the target's notation, ``display.account_text``) or what the
flow's own target checks say of that account (``FlowHandler.line_mentions``: "account 6999 is",
"code part B (Cost Center) value CC99").
A flow without these hooks gets no line table: the page still shows the hold message.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from ..flows import handler_class
from ..models import BatchState
from .display import account_text, field_text, label

logger = logging.getLogger(__name__)


@dataclass
class LineExplanation:
    line: str
    values: dict
    account: str = ""
    at_fault: bool = False
    field: str = ""
    message: str = ""


@dataclass
class HoldExplanation:
    flow_id: int
    batch_id: int | None = None
    tenant_id: int | None = None
    currency: str = ""
    lines: list[LineExplanation] = field(default_factory=list)

    @property
    def at_fault(self):
        return [ln for ln in self.lines if ln.at_fault]


def explain(batch) -> HoldExplanation | None:
    """The line-by-line explanation of a held batch, or None (not held, or the flow cannot tell)."""
    if batch.state != BatchState.HELD:
        return None
    flow = batch.flow
    try:
        handler = handler_class(flow.kind)(flow)
        rows = handler.source_lines(batch.payload or {})
    except Exception:  # an unknown kind or an odd payload: the page still shows the hold message
        logger.warning("cannot list the lines of batch %s", batch.pk, exc_info=True)
        return None
    if not rows:
        return None
    message = batch.last_error or ""
    explanation = HoldExplanation(flow_id=flow.pk, batch_id=batch.pk, tenant_id=flow.tenant_id,
                                  currency=batch.currency or (batch.payload or {}).get("currency") or "")
    for index, values in enumerate(rows):
        values = dict(values)
        line_id = str(values.pop("line", "") or index + 1)
        try:
            check = handler.check_line(batch.payload, index) or {}
        except Exception:
            logger.warning("cannot check line %s of batch %s", index, batch.pk, exc_info=True)
            check = {}
        item = LineExplanation(line=line_id, values=values)
        if check.get("code"):
            item.at_fault, item.field, item.message = True, check.get("field", ""), check.get("message", "")
        elif check.get("account"):
            item.account = account_text(flow.target_system, check["account"])
            mentions = [item.account, *handler.line_mentions(check["account"])]
            if any(mentioned(message, m) for m in mentions):
                # the source field the account comes from, when the flow names one (a Procurify "account code")
                item.at_fault, item.field, item.message = True, check.get("field") or "account", message
        if not item.at_fault and names_line(message, line_id):
            item.at_fault, item.message = True, message
        explanation.lines.append(item)
    return explanation


def mentioned(message, text):
    """Whether ``message`` has ``text`` as words of their own: account 100.6110 is not in "1100.6110" nor in
    "100.6110.CC10", and "account 6999 is" not in "subaccount 6999 is"."""
    if not text:
        return False
    end = r"(?!\w|\.\w)" if text[-1].isalnum() else ""
    return re.search(rf"(?<![\w.]){re.escape(text)}{end}", message) is not None


def names_line(message, line_id):
    """Whether the hold message names the line: "line 2", or its id as a word of its own (a short number alone
    is not enough: "1" is in "account 100.4000")."""
    if not line_id:
        return False
    if re.search(rf"\bline {re.escape(line_id)}(?!\w|\.\d)", message):
        return True
    return not line_id.isdigit() and re.search(rf"(?<![\w-]){re.escape(line_id)}(?![\w-])", message) is not None


def money_fields(batch):
    """How a batch's records show their amounts (``display.labelled_values``): the batch's currency, in minor units
    when its source counts so (``FlowHandler.source_minor_units``, Expensify's cents)."""
    try:
        minor = bool(getattr(handler_class(batch.flow.kind), "source_minor_units", False))
    except LookupError:
        minor = False
    return {"currency": batch.currency or "", "minor_units": minor}


def _cells(item, columns, currency):
    marked = columns.index(item.field) + 1 if item.field in columns else None
    values = (field_text(c, item.values.get(c), currency) for c in columns)
    cells = [item.line, *values, item.account or "-", item.message or ""]
    return format_html_join(
        "",
        "{}",
        (
            (format_html("<td><strong>{}</strong></td>", c) if i == marked else format_html("<td>{}</td>", c),)
            for i, c in enumerate(cells)
        ),
    )


def _fix_links(found):
    """For a line held on a source value a mapping rule can match: "add a rule" pre-filled with it, which comes
    back to the batch once saved (``next``), where Retry is."""
    from mappings.vocabulary import MATCH_ATTRIBUTES

    back = {"next": reverse("admin:integrations_batch_change", args=[found.batch_id])} if found.batch_id else {}
    links = {}
    for ln in found.at_fault:
        value = ln.values.get(ln.field)
        if ln.field in MATCH_ATTRIBUTES and value:
            # the tenant too, as the coverage page's links do: support's form asks for it
            query = urlencode({"tenant": found.tenant_id, "flow": found.flow_id, ln.field: value, **back})
            links[(ln.field, value)] = f"{reverse('admin:mappings_mappingrule_add')}?{query}"
    if not links:
        return ""
    return format_html(
        "<ul>{}</ul>",
        format_html_join(
            "", '<li><a href="{}">Add a mapping rule for {} "{}"</a></li>', ((url, label(f), v) for (f, v), url in links.items())
        ),
    )


def explanation_html(found: HoldExplanation | None):
    """The lines as a table, the ones at fault marked and their field in bold, a summary above."""
    if found is None:
        return "-"
    columns = list(dict.fromkeys(k for ln in found.lines for k in ln.values))
    head = format_html_join("", "<th>{}</th>", ((label(c),) for c in ["line", *columns, "maps to", "problem"]))
    rows = [("problem" if ln.at_fault else "", _cells(ln, columns, found.currency)) for ln in found.lines]
    if found.at_fault:
        named = ", ".join(
            f"line {ln.line}" + (f' ({ln.field} "{ln.values[ln.field]}")' if ln.field in ln.values else "")
            for ln in found.at_fault
        )
        summary = f"{len(found.at_fault)} of {len(found.lines)} line(s) at fault: {named}"
    else:
        summary = "No single line is at fault: read the message above."
    return format_html(
        '<p>{}</p>{}<table class="hold-lines"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>',
        summary,
        _fix_links(found),
        head,
        format_html_join("", '<tr class="{}">{}</tr>', rows),
    )
