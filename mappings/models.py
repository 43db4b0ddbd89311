"""GL mapping rules and the per-connection reference-data cache.

One ``MappingRule`` model serves all five flows: explicit nullable columns for the match
attributes (plus ``tags`` for Expensify tag matches by tag list) and one ``target_<field>``
column per target field. Blank = "not a condition" on the match side and "not set by this
rule" on the target side. How rules combine is in ``PRECEDENCE.md`` and ``resolver.py``.

This app imports ``portal`` and ``audit`` (a sibling with no dependencies of its own);
``integrations.Flow`` / ``Connection`` are referenced by string only.
"""

from __future__ import annotations

import hashlib

from django.core.exceptions import ValidationError
from django.db import models

from .vocabulary import (
    MATCH_ATTRIBUTES,
    MATCH_LABELS,
    TAG_PREFIX,
    TARGET_FIELDS,
    describe_shape,
    norm_value,
    specificity,
)

AUDIT_EXCLUDE = {"id", "match_key", "reference_status", "reference_message", "created_at", "updated_at"}


class MappingRule(models.Model):
    REF_OK, REF_UNCHECKED, REF_NOT_NEEDED = "ok", "unchecked", ""
    REFERENCE_STATUSES = [
        (REF_OK, "Checked against reference data"),
        (REF_UNCHECKED, "Not checked: no reference data cached yet"),
        (REF_NOT_NEEDED, "-"),
    ]

    tenant = models.ForeignKey("portal.Tenant", on_delete=models.CASCADE, related_name="mapping_rules")
    flow = models.ForeignKey(
        "integrations.Flow",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="mapping_rules",
        help_text="Leave empty to apply the rule to every flow of the tenant. A flow's own rule beats a tenant-wide "
        "rule with the same match.",
    )

    # -- match (source) attributes: blank = any value ------------------------------------
    employee = models.CharField(max_length=254, blank=True, help_text=MATCH_LABELS["employee"])
    category = models.CharField(max_length=150, blank=True, help_text=MATCH_LABELS["category"])
    policy = models.CharField(max_length=150, blank=True, help_text=MATCH_LABELS["policy"])
    tags = models.JSONField(
        default=dict,
        blank=True,
        help_text='Expensify tags by tag list, e.g. {"Cost Center": "CC10", "Project": "PRJ-ALPHA"}.',
    )
    procurify_account_code = models.CharField(max_length=100, blank=True, help_text=MATCH_LABELS["procurify_account_code"])
    procurify_department = models.CharField(max_length=150, blank=True, help_text=MATCH_LABELS["procurify_department"])
    procurify_location = models.CharField(max_length=150, blank=True, help_text=MATCH_LABELS["procurify_location"])
    bill_account = models.CharField(max_length=150, blank=True, help_text=MATCH_LABELS["bill_account"])
    bill_department = models.CharField(max_length=150, blank=True, help_text=MATCH_LABELS["bill_department"])
    jde_business_unit = models.CharField(max_length=12, blank=True, help_text=MATCH_LABELS["jde_business_unit"])
    jde_object = models.CharField(max_length=10, blank=True, help_text=MATCH_LABELS["jde_object"])
    jde_subsidiary = models.CharField(max_length=10, blank=True, help_text=MATCH_LABELS["jde_subsidiary"])
    acumatica_department = models.CharField(max_length=60, blank=True, help_text=MATCH_LABELS["acumatica_department"])
    acumatica_employee_class = models.CharField(max_length=60, blank=True,
                                                help_text=MATCH_LABELS["acumatica_employee_class"])

    # -- targets: blank = this rule does not set the field --------------------------------
    target_business_unit = models.CharField(max_length=12, blank=True, verbose_name="JDE business unit")
    target_object = models.CharField(max_length=10, blank=True, verbose_name="JDE object account")
    target_subsidiary = models.CharField(max_length=10, blank=True, verbose_name="JDE subsidiary")
    target_ifs_code_a = models.CharField(max_length=40, blank=True, verbose_name="IFS code A (account)")
    target_ifs_code_b = models.CharField(max_length=40, blank=True, verbose_name="IFS code B")
    target_ifs_code_c = models.CharField(max_length=40, blank=True, verbose_name="IFS code C")
    target_ifs_code_d = models.CharField(max_length=40, blank=True, verbose_name="IFS code D")
    target_ifs_code_e = models.CharField(max_length=40, blank=True, verbose_name="IFS code E")
    target_ifs_code_f = models.CharField(max_length=40, blank=True, verbose_name="IFS code F")
    target_ifs_code_g = models.CharField(max_length=40, blank=True, verbose_name="IFS code G")
    target_ifs_code_h = models.CharField(max_length=40, blank=True, verbose_name="IFS code H")
    target_ifs_code_i = models.CharField(max_length=40, blank=True, verbose_name="IFS code I")
    target_ifs_code_j = models.CharField(max_length=40, blank=True, verbose_name="IFS code J")
    target_acumatica_account = models.CharField(max_length=40, blank=True, verbose_name="Acumatica account")
    target_acumatica_subaccount = models.CharField(max_length=60, blank=True, verbose_name="Acumatica subaccount")
    target_acumatica_branch = models.CharField(max_length=40, blank=True, verbose_name="Acumatica branch")
    target_acumatica_project = models.CharField(max_length=60, blank=True, verbose_name="Acumatica project")
    target_acumatica_task = models.CharField(max_length=60, blank=True, verbose_name="Acumatica project task")
    target_bill_chart_of_account_id = models.CharField(max_length=60, blank=True, verbose_name="BILL chart of account id")
    target_bill_department_id = models.CharField(max_length=60, blank=True, verbose_name="BILL department id")
    target_procurify_account_code = models.CharField(max_length=100, blank=True, verbose_name="Procurify account code")
    target_expensify_policy = models.CharField(max_length=60, blank=True, verbose_name="Expensify policy ID")

    active = models.BooleanField(default=True, db_index=True)
    note = models.TextField(blank=True)
    # Derived on save: a hash of the normalized match conditions (tie detection uses it).
    match_key = models.CharField(max_length=40, editable=False, db_index=True)
    reference_status = models.CharField(
        max_length=10, blank=True, editable=False, choices=REFERENCE_STATUSES,
        help_text="Whether the targets were checked against the target system's cached reference data on save.",
    )
    reference_message = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tenant__name", "id"]
        indexes = [
            models.Index(fields=["tenant", "flow", "match_key"]),
            models.Index(fields=["tenant", "active"]),
            models.Index(fields=["reference_status"]),  # admin filter
        ]

    def __str__(self):
        ident = f"#{self.pk}" if self.pk else "new rule"
        return f"{ident} [{self.describe_match()}] -> {self.describe_targets()}"

    def save(self, *args, **kwargs):
        self.match_key = self.compute_match_key()
        super().save(*args, **kwargs)

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._loaded = dict(zip(field_names, values, strict=False))  # for the audit "before"
        return instance

    # -- the rule as data ----------------------------------------------------------------
    def conditions(self) -> dict[str, str]:
        """Normalized match conditions: attribute key -> normalized value (only the set ones)."""
        out = {}
        for name in MATCH_ATTRIBUTES:
            value = norm_value(getattr(self, name))
            if value:
                out[name] = value
        for list_name, value in (self.tags or {}).items() if isinstance(self.tags, dict) else ():
            list_name, value = norm_value(list_name), norm_value(value)
            if list_name and value:
                out[TAG_PREFIX + list_name] = value
        return out

    def targets(self) -> dict[str, str]:
        """Target field -> value for the fields this rule sets."""
        out = {}
        for name in TARGET_FIELDS:
            value = (getattr(self, f"target_{name}") or "").strip()
            if value:
                out[name] = value
        return out

    def compute_match_key(self) -> str:
        canonical = "\x1f".join(f"{k}\x1e{v}" for k, v in sorted(self.conditions().items()))
        return hashlib.sha1(canonical.encode(), usedforsecurity=False).hexdigest()

    @property
    def flow_scoped(self) -> bool:
        return self.flow_id is not None

    def specificity(self) -> tuple:
        return specificity(self.conditions(), self.flow_scoped)

    def shape(self) -> str:
        return describe_shape(self.conditions()) + ("" if self.flow_scoped else " (all flows)")

    def describe_match(self) -> str:
        parts = [f"{name}={getattr(self, name).strip()}" for name in MATCH_ATTRIBUTES if norm_value(getattr(self, name))]
        if isinstance(self.tags, dict):
            parts += [f"tag {k.strip()}={str(v).strip()}" for k, v in self.tags.items() if norm_value(k) and norm_value(v)]
        return ", ".join(parts) or "any line"

    def describe_targets(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.targets().items()) or "nothing"

    def audit_values(self, loaded=None) -> dict:
        """The rule's editable fields as plain JSON (for audit before/after)."""
        out = {}
        for field in self._meta.concrete_fields:
            if field.name in AUDIT_EXCLUDE:
                continue
            key = field.attname
            value = loaded[key] if loaded is not None else getattr(self, key)
            out[key] = value
        return out

    # -- validation ------------------------------------------------------------------------
    def clean(self):
        errors = {}
        if self.tags in (None, ""):
            self.tags = {}
        if not isinstance(self.tags, dict):
            errors["tags"] = 'Give tags as an object of tag list -> value, e.g. {"Cost Center": "CC10"}.'
        else:
            cleaned = {}
            for k, v in self.tags.items():
                if not str(k).strip() or v is None or not str(v).strip():
                    errors["tags"] = f"Tag list {k!r} needs a name and a value."
                    break
                if norm_value(k) in {norm_value(x) for x in cleaned}:
                    errors["tags"] = f"Tag list {k!r} is given twice."
                    break
                cleaned[str(k).strip()] = str(v).strip()
            else:
                self.tags = cleaned
        for name in MATCH_ATTRIBUTES:
            setattr(self, name, (getattr(self, name) or "").strip())
        for name in TARGET_FIELDS:
            setattr(self, f"target_{name}", (getattr(self, f"target_{name}") or "").strip())
        if not self.targets():
            errors["__all__"] = "Set at least one target field (e.g. a JD Edwards object account)."
        if self.flow_id and self.tenant_id and self._flow_tenant_id() != self.tenant_id:
            errors["flow"] = "This flow belongs to another tenant."
        if errors:
            raise ValidationError(errors)
        self.check_ties()
        self.check_reference()

    def _flow_tenant_id(self):
        return self.flow.tenant_id

    def check_ties(self, others=None):
        """Refuse a rule that would tie with another: same scope, same match, a target field in common.

        ``others`` (an iterable of rules) replaces the database lookup, for imports that
        check rows against each other before saving.
        """
        if not self.active or not self.tenant_id:
            return
        key = self.compute_match_key()
        if others is None:
            others = MappingRule.objects.filter(tenant_id=self.tenant_id, flow_id=self.flow_id, match_key=key, active=True)
            if self.pk:
                others = others.exclude(pk=self.pk)
        mine = self.targets()
        messages = []
        for other in others:
            if other is self or (self.pk and other.pk == self.pk) or not other.active:
                continue
            if other.flow_id != self.flow_id or other.compute_match_key() != key:
                continue
            common = sorted(set(mine) & set(other.targets()))
            if common:
                scope = "flow" if self.flow_id else "tenant-wide"
                messages.append(
                    f"Rule {self} ties with rule {other}: same {scope} match ({self.describe_match()}) and both set "
                    f"{', '.join(common)}. Change the match of one of them, or set {', '.join(common)} in only one."
                )
        if messages:
            raise ValidationError(messages)

    def check_reference(self):
        """Targets against the target system's cached reference data (an unknown or inactive value is an error)."""
        from .reference import validate_rule_targets

        status, problems, note = validate_rule_targets(self)
        self.reference_status = status
        self.reference_message = note
        if problems:
            raise ValidationError({f"target_{field}": message for field, message in problems})


class ReferenceEntry(models.Model):
    """One value of a target system's reference data (an account, a cost center...), cached per connection.

    ``kind`` names the list (JDE: ``account`` keyed "BU.OBJ" or "BU.OBJ.SUB", optionally
    ``business_unit`` / ``object`` / ``subsidiary``; IFS: ``code_a``..``code_j``; Acumatica:
    ``account``, ``subaccount``, ``branch``, ``project``, ``task``; BILL: ``chart_of_account``,
    ``department``; Procurify: ``account_code``).
    """

    connection = models.ForeignKey("integrations.Connection", on_delete=models.CASCADE, related_name="reference_entries")
    kind = models.CharField(max_length=40)
    key = models.CharField(max_length=120)
    description = models.CharField(max_length=255, blank=True)
    active = models.BooleanField(default=True)
    postable = models.BooleanField(default=True, help_text="False for summary / non-posting accounts.")
    data = models.JSONField(default=dict, blank=True)
    refreshed_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "reference data entry"
        verbose_name_plural = "reference data"
        ordering = ["connection_id", "kind", "key"]
        constraints = [models.UniqueConstraint(fields=["connection", "kind", "key"], name="reference_entry_unique")]
        indexes = [models.Index(fields=["kind"]), models.Index(fields=["active"]), models.Index(fields=["postable"])]

    def __str__(self):
        flags = "" if self.active and self.postable else (" (inactive)" if not self.active else " (non-posting)")
        return f"{self.kind} {self.key}{flags}"

    @property
    def usable(self):
        return self.active and self.postable
