"""Spreadsheet import and export (CSV, XLSX) of a tenant's mapping table, with django-import-export.

Columns: ``id`` (blank = new rule), ``tenant`` (slug), ``flow`` (flow name, blank = all
flows), the match columns, ``tags`` (``Cost Center=CC10; Project=PRJ-ALPHA``), the
``target_*`` columns, ``active``, ``note`` and ``delete`` (``yes`` deletes the rule
of that id).

Guarantees:

* **Atomic**: the import runs in one transaction and is rolled back when any row has an
  error *or* a validation error (``import_data`` forces both), so a file is applied whole
  or not at all. The admin's first step is a dry run that shows the preview.
* **Tenant-bound**: a resource built with ``tenant=`` (every customer user) reads and
  writes only that tenant's rules: the ``tenant`` column must be blank or that tenant, an
  ``id`` of another tenant's rule is "not found", and flows are looked up in that tenant.
* **Validated like the form**: every row goes through ``MappingRule.full_clean()`` (ties,
  reference data), checked against the rows already imported from the same file.
* **Audited**: row changes write ``mapping.created/changed/deleted`` entries with the
  importing user and one action id, plus one ``mapping.imported`` summary entry.
"""

from __future__ import annotations

import json

from django.apps import apps
from import_export import fields, resources, widgets
from import_export.results import RowResult

from portal.exports import starts_like_formula, unneutralise
from portal.models import Tenant

from . import audit
from .models import MappingRule
from .spreadsheet import COLUMN_LABELS, natural_key, normalise_headers
from .vocabulary import MATCH_ATTRIBUTES, TARGET_FIELDS

TRUE_WORDS = {"1", "true", "yes", "y", "x", "on", "delete"}
FREE_TEXT_MATCHES = {"employee"}


def format_tags(tags) -> str:
    if not isinstance(tags, dict):
        return ""
    return "; ".join(f"{k}={v}" for k, v in tags.items())


def parse_tags(text) -> dict:
    """``"Cost Center=CC10; Project=PRJ-ALPHA"`` (or a JSON object) -> dict."""
    if text is None:
        return {}
    if isinstance(text, dict):
        return text
    text = str(text).strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except ValueError:
            raise ValueError(f'tags: {text!r} is not valid JSON; write e.g. "Cost Center=CC10; Project=PRJ-ALPHA"') from None
        if not isinstance(value, dict):
            raise ValueError("tags: give tag list = value pairs")
        return {str(k).strip(): str(v).strip() for k, v in value.items()}
    out = {}
    for part in text.replace("\n", ";").split(";"):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise ValueError(f'tags: "{part}" is not "tag list=value" (e.g. "Cost Center=CC10")')
        k, v = part.split("=", 1)
        if not k.strip() or not v.strip():
            raise ValueError(f'tags: "{part}" needs a tag list name and a value')
        out[k.strip()] = v.strip()
    return out


class TagsWidget(widgets.Widget):
    def clean(self, value, row=None, **kwargs):
        return parse_tags(value)

    def render(self, value, obj=None, **kwargs):
        return format_tags(value)


class TextWidget(widgets.CharWidget):
    """Blank cells become "" (never None) and numbers from spreadsheets lose a trailing ".0".

    The apostrophe an export puts before a formula-like value (``portal.exports``) is taken
    off again, so an exported file imports back unchanged."""

    def clean(self, value, row=None, **kwargs):
        if value is None:
            return ""
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return unneutralise(str(value)).strip()


class CodeWidget(TextWidget):
    """A GL code, category or other code: no legitimate one starts like a spreadsheet formula."""

    def __init__(self, column_name, **kwargs):
        super().__init__(**kwargs)
        self.column_name = column_name

    def clean(self, value, row=None, **kwargs):
        raw = "" if value is None else unneutralise(str(value))
        if starts_like_formula(raw.lstrip(" ")):
            raise ValueError(f"{self.column_name}: {raw[:40]!r} starts like a spreadsheet formula "
                             "(=, +, -, @, tab or carriage return); no code starts that way")
        return super().clean(value, row, **kwargs)


class ActiveWidget(widgets.Widget):
    def clean(self, value, row=None, **kwargs):
        if value is None or str(value).strip() == "":
            return True
        text = str(value).strip().casefold()
        if text in {"1", "true", "yes", "y", "x", "on"}:
            return True
        if text in {"0", "false", "no", "n", "off"}:
            return False
        raise ValueError(f'active: "{value}" is not yes/no')

    def render(self, value, obj=None, **kwargs):
        return "yes" if value else "no"


class FlowWidget(widgets.Widget):
    """A flow by name, looked up within the row's tenant (set by the resource before each row)."""

    tenant_id = None

    def clean(self, value, row=None, **kwargs):
        name = "" if value is None else str(value).strip()
        if not name:
            return None
        tenant_id = self.tenant_id
        Flow = apps.get_model("integrations", "Flow")
        flow = Flow.objects.filter(tenant_id=tenant_id, name__iexact=name).first()
        if flow is None:
            raise ValueError(f'flow: there is no flow named "{name}" in this tenant')
        return flow

    def render(self, value, obj=None, **kwargs):
        return value.name if value is not None else ""


class MappingRuleResource(resources.ModelResource):
    id = fields.Field(attribute="id", column_name="id", widget=widgets.IntegerWidget())
    tenant = fields.Field(attribute="tenant", column_name="tenant", widget=widgets.ForeignKeyWidget(Tenant, "slug"))
    flow = fields.Field(attribute="flow", column_name="flow", widget=FlowWidget())
    tags = fields.Field(attribute="tags", column_name="tags", widget=TagsWidget())
    active = fields.Field(attribute="active", column_name="active", widget=ActiveWidget())
    note = fields.Field(attribute="note", column_name="note", widget=TextWidget())
    delete = fields.Field(column_name="delete", readonly=True)

    class Meta:
        model = MappingRule
        import_id_fields = ("id",)
        fields = ("id", "tenant", "flow", *MATCH_ATTRIBUTES, "tags", *(f"target_{f}" for f in TARGET_FIELDS),
                  "active", "note", "delete")
        export_order = fields
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = True
        use_transactions = True
        store_instance = True

    def __init__(self, tenant=None, user=None, tenants=None, **kwargs):
        """Which tenants this import/export may touch.

        ``tenant``: one tenant (a customer user's only tenant): the ``tenant`` column may be
        blank. ``tenants``: a set of tenant ids (a customer with several memberships): each
        row names one of them. Neither: any tenant (support staff); each row names it.
        """
        super().__init__(**kwargs)
        self.tenant = tenant
        self.user = user
        if tenant is not None:
            self.allowed = frozenset({tenant.pk})
        else:
            self.allowed = frozenset(tenants) if tenants is not None else None
        for name in (*MATCH_ATTRIBUTES, *(f"target_{f}" for f in TARGET_FIELDS)):
            # Codes refuse formula-like values; an e-mail address is free text (it may start with "+" or "-").
            self.fields[name].widget = TextWidget() if name in FREE_TEXT_MATCHES else CodeWidget(name)
        self._audit_ctx = None
        self._row_tenant_id = None
        self._matched = {}  # rule id -> the row of this file matched to it on its natural key

    # -- scoping -----------------------------------------------------------------------
    def get_queryset(self):
        qs = MappingRule.objects.select_related("tenant", "flow")
        return qs.filter(tenant_id__in=self.allowed) if self.allowed is not None else qs

    def before_import(self, dataset, **kwargs):
        # Plain-word headers ("JD Edwards object account") and files without the id column (rows are
        # then matched on their natural key) are both fine.
        normalise_headers(dataset)
        if "id" not in dataset.headers:
            dataset.append_col([""] * len(dataset), header="id")
        super().before_import(dataset, **kwargs)

    def get_instance(self, instance_loader, row):
        rule_id = row.get("id")
        if rule_id in (None, ""):
            return self._by_natural_key(row)
        try:
            rule_id = int(float(rule_id))
        except (TypeError, ValueError):
            raise ValueError(f'id: "{rule_id}" is not a rule id (leave it blank for a new rule)') from None
        instance = self.get_queryset().filter(pk=rule_id).first()
        if instance is None:
            where = " in your tenant" if self.allowed is not None else ""
            raise ValueError(f"id: rule {rule_id} does not exist{where}; leave id blank to add a new rule")
        return instance

    def _tenant_of_flow(self, name):
        """The tenant slug of the one flow so named among the tenants this import may touch, else ""."""
        Flow = apps.get_model("integrations", "Flow")
        flows = Flow.objects.filter(name__iexact=name)
        if self.allowed is not None:
            flows = flows.filter(tenant_id__in=self.allowed)
        slugs = set(flows.values_list("tenant__slug", flat=True)[:2])
        return slugs.pop() if len(slugs) == 1 else ""

    def _by_natural_key(self, row):
        """The rule of this row's tenant and flow with the same match values, if any (a row without an id)."""
        if self._row_tenant_id is None:
            return None
        try:
            flow = self.fields["flow"].widget.clean(row.get("flow"), row)
            key = natural_key(row)
        except ValueError:
            return None  # the flow or tags column is wrong: importing the field says so on the row
        tags = key.pop("tags")
        candidates = self.get_queryset().filter(tenant_id=self._row_tenant_id, flow=flow,
                                                **{f"{k}__iexact": v for k, v in key.items()})
        rule = next((r for r in candidates if (r.tags or {}) == tags), None)
        if rule is not None and rule.pk in self._matched:
            raise ValueError(f"this row ties with rule #{rule.pk} from row {self._matched[rule.pk]} of this file "
                             "(the same flow and match values); keep one of them")
        return rule

    def after_import_row(self, row, row_result, **kwargs):
        super().after_import_row(row, row_result, **kwargs)
        if row_result.object_id is not None:
            self._matched.setdefault(row_result.object_id, kwargs.get("row_number"))

    def before_import_row(self, row, **kwargs):
        slug = str(row.get("tenant") or "").strip()
        if not slug and self.tenant is not None:
            slug = row["tenant"] = self.tenant.slug
        if not slug and str(row.get("flow") or "").strip():
            slug = row["tenant"] = self._tenant_of_flow(str(row["flow"]).strip())
        if not slug:
            raise ValueError("tenant: give the tenant's slug")
        tenant = self.tenant if self.tenant is not None and self.tenant.slug == slug else (
            Tenant.objects.filter(slug=slug).first())
        if tenant is None or (self.allowed is not None and tenant.pk not in self.allowed):
            if self.allowed is not None:
                raise ValueError(f'tenant: you can only import rules into your own tenant, not "{slug}"')
            raise ValueError(f'tenant: no tenant "{slug}"')
        self._row_tenant_id = self.fields["flow"].widget.tenant_id = tenant.pk
        if row.get("id") not in (None, ""):
            row["id"] = str(int(float(row["id"]))) if _is_number(row["id"]) else row["id"]

    def after_init_instance(self, instance, new, row, **kwargs):
        if not new and instance.tenant_id != self._row_tenant_id:
            raise ValueError("tenant: a rule cannot be moved to another tenant; delete it and add it there")

    def import_field(self, field, instance, row, is_m2m=False, **kwargs):
        if field.column_name == "id":
            return  # ids are only looked up, never assigned
        super().import_field(field, instance, row, is_m2m, **kwargs)

    def for_delete(self, row, instance):
        return str(row.get("delete") or "").strip().casefold() in TRUE_WORDS

    def dehydrate_delete(self, rule):
        return ""

    # -- transaction + audit -------------------------------------------------------------
    def import_data(self, dataset, dry_run=False, raise_errors=False, use_transactions=None,
                    collect_failed_rows=False, rollback_on_validation_errors=False, **kwargs):
        # Nothing is applied when any row is invalid: always transactional, always rolled back on
        # row errors and validation errors (the library only does the latter when asked).
        file_name = kwargs.get("file_name") or "spreadsheet"
        user = kwargs.get("user") or self.user
        with audit.acting(user, message=f"(import of {file_name})") as ctx:
            self._audit_ctx = ctx
            return super().import_data(dataset, dry_run=dry_run, raise_errors=raise_errors, use_transactions=True,
                                       collect_failed_rows=collect_failed_rows, rollback_on_validation_errors=True,
                                       **kwargs)

    def after_import(self, dataset, result, **kwargs):
        super().after_import(dataset, result, **kwargs)
        self._preview_columns(dataset, result)
        if kwargs.get("dry_run") or result.has_errors() or result.has_validation_errors():
            return
        counts = {t: 0 for t in (RowResult.IMPORT_TYPE_NEW, RowResult.IMPORT_TYPE_UPDATE, RowResult.IMPORT_TYPE_DELETE,
                                 RowResult.IMPORT_TYPE_SKIP)}
        for r in result.rows:
            if r.import_type in counts:
                counts[r.import_type] += 1
        tenants = {r.instance.tenant_id for r in result.rows if getattr(r, "instance", None) is not None}
        if not tenants and self.tenant is not None:
            tenants = {self.tenant.pk}
        ctx = self._audit_ctx
        from audit.log import record

        for tenant_id in sorted(t for t in tenants if t):
            record(tenant_id, audit.EVENT_IMPORTED, actor=ctx.actor, action_id=ctx.action_id,
                   source_ref=str(kwargs.get("file_name") or "")[:120],
                   message=f"Imported {kwargs.get('file_name') or 'a spreadsheet'}: {counts['new']} new, "
                           f"{counts['update']} changed, {counts['delete']} deleted, {counts['skip']} unchanged.",
                   after=counts)


    def _preview_columns(self, dataset, result):
        """The preview shows the file's own columns and those a row fills (its flow, its tenant), headed in plain
        words: all 39 internal field names made the page 5,600 px wide for a three-column file."""
        names = [f.column_name for f in self.get_import_fields()]  # the order of diff_headers and of each row's diff
        in_file = set(dataset.headers or ()) - {"id"}  # the id column is ours when the file had none
        updates = any(r.is_update() for r in result.rows)  # a new rule's id is only the preview's own
        keep = [i for i, name in enumerate(names)
                if (name != "id" or updates)
                and (name in in_file or any(r.diff and i < len(r.diff) and r.diff[i] for r in result.rows))]
        result.diff_headers = [COLUMN_LABELS.get(names[i], names[i]) for i in keep]
        for r in result.rows:
            if r.diff:
                r.diff = [r.diff[i] for i in keep if i < len(r.diff)]


def _is_number(value):
    try:
        float(value)
        return True
    except (TypeError, ValueError):
        return False
