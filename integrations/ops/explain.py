"""Why a batch is held, line by line: which source line(s) and field, with the source values.

General over flows: the flow's handler lists the record's lines (``FlowHandler.source_lines``)
and maps one line from the portal's own data (``FlowHandler.check_line``). A line is at fault
when mapping it holds, or when the hold message names its id or the account it maps to
(written in the target's notation, ``display.account_text``), as the target checks do.
A flow without these hooks gets no line table: the page still shows the hold message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from ..flows import handler_class
from ..models import BatchState
from .display import account_text, label, scalar

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
    explanation = HoldExplanation(flow_id=flow.pk, batch_id=batch.pk, tenant_id=flow.tenant_id)
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
            if item.account and item.account in message:
                item.at_fault, item.field, item.message = True, "account", message
        if not item.at_fault and line_id and line_id in message:
            item.at_fault, item.message = True, message
        explanation.lines.append(item)
    return explanation


def _cells(item, columns):
    marked = columns.index(item.field) + 1 if item.field in columns else None
    cells = [item.line, *(scalar(item.values.get(c)) for c in columns), item.account or "-", item.message or ""]
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
    rows = [("problem" if ln.at_fault else "", _cells(ln, columns)) for ln in found.lines]
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
