"""Save-time validation: ties refused naming both rules; targets checked against the cached reference data."""

import pytest
from django.core.exceptions import ValidationError

from mappings.models import MappingRule

from .conftest import add_rule, load_chart, make_flow

pytestmark = pytest.mark.django_db


def errors_of(rule):
    with pytest.raises(ValidationError) as exc:
        rule.full_clean()
    return exc.value


def test_a_tie_is_refused_with_a_message_naming_both_rules(tenant, flow):
    first = add_rule(tenant, category="Meals", target_object="6110")
    second = MappingRule(tenant=tenant, category="  meals ", target_object="6115", target_subsidiary="CC10")
    message = " ".join(errors_of(second).messages)
    assert f"#{first.pk}" in message and "object=6110" in message  # the existing rule
    assert "new rule" in message and "object=6115" in message  # the one being saved
    assert "both set object" in message
    assert MappingRule.objects.count() == 1


def test_a_tie_on_change_names_both_saved_rules(tenant, flow):
    a = add_rule(tenant, flow, employee="ann@example.com", category="Meals", target_object="6110")
    b = add_rule(tenant, flow, employee="ann@example.com", category="Lodging", target_object="6120")
    b.category = "MEALS"
    message = " ".join(errors_of(b).messages)
    assert f"#{a.pk}" in message and f"#{b.pk}" in message


@pytest.mark.parametrize("second", [
    {"category": "Meals", "target_subsidiary": "CC10"},  # same match, different field: combines
    {"category": "Meals", "policy": "HQ", "target_object": "6120"},  # more specific: wins, no tie
    {"category": "Lodging", "target_object": "6120"},  # different value
    {"category": "Meals", "target_object": "6115", "active": False},  # inactive rules never tie
    {"category": "Meals", "target_object": "6115", "scoped": True},  # flow rule beats tenant-wide: no tie
])
def test_no_tie(tenant, flow, second):
    add_rule(tenant, category="Meals", target_object="6110")
    scoped = second.pop("scoped", False)
    add_rule(tenant, flow if scoped else None, **second)
    assert MappingRule.objects.count() == 2


def test_rules_of_two_flows_never_tie(tenant, flow):
    other = make_flow(tenant, name="Second flow")
    add_rule(tenant, flow, category="Meals", target_object="6110")
    add_rule(tenant, other, category="Meals", target_object="6115")


def test_activating_a_tying_rule_is_refused(tenant, flow):
    add_rule(tenant, category="Meals", target_object="6110")
    dormant = add_rule(tenant, category="Meals", target_object="6115", active=False)
    dormant.active = True
    assert "ties with rule" in " ".join(errors_of(dormant).messages)


def test_tag_rules_tie_whatever_the_case_of_the_tag_list(tenant, flow):
    add_rule(tenant, tags={"Cost Center": "CC10"}, target_subsidiary="CC10")
    dup = MappingRule(tenant=tenant, tags={"cost center ": "cc10"}, target_subsidiary="CC20")
    assert "ties with rule" in " ".join(errors_of(dup).messages)


def test_a_rule_must_set_a_target_and_its_flow_must_belong_to_its_tenant(tenant, flow, other_flow):
    assert "at least one target" in " ".join(errors_of(MappingRule(tenant=tenant, category="Meals")).messages)
    err = errors_of(MappingRule(tenant=tenant, flow=other_flow, category="Meals", target_object="6110"))
    assert "another tenant" in str(err.message_dict["flow"])


def test_bad_tags_are_refused(tenant):
    err = errors_of(MappingRule(tenant=tenant, tags={"Cost Center": ""}, target_subsidiary="CC10"))
    assert "tags" in err.message_dict
    err = errors_of(MappingRule(tenant=tenant, tags=["CC10"], target_subsidiary="CC10"))
    assert "tags" in err.message_dict


# -- reference data ------------------------------------------------------------------------------
def test_without_cached_reference_data_a_rule_saves_but_is_flagged_unchecked(tenant, flow):
    rule = add_rule(tenant, flow, category="Meals", target_business_unit="123", target_object="4567")
    assert rule.reference_status == MappingRule.REF_UNCHECKED
    assert "no reference data is cached" in rule.reference_message


def test_a_known_active_account_passes(tenant, flow, chart):
    rule = add_rule(tenant, flow, category="Meals", target_business_unit="200", target_object="6110",
                    target_subsidiary="CC10")
    assert rule.reference_status == MappingRule.REF_OK
    assert add_rule(tenant, flow, policy="HQ", target_business_unit="100").reference_status == "ok"
    assert add_rule(tenant, flow, category="Lodging", target_object="6120").reference_status == "ok"


@pytest.mark.parametrize("targets, field, words", [
    ({"target_business_unit": "200", "target_object": "6110", "target_subsidiary": "CC99"}, "target_object",
     ["200.6110.CC99", "not in the chart of accounts"]),
    ({"target_business_unit": "200", "target_object": "7777"}, "target_object", ["200.7777", "not in the chart"]),
    ({"target_business_unit": "900", "target_object": "6110"}, "target_object", ["900.6110", "inactive"]),
    ({"target_business_unit": "300", "target_object": "6900"}, "target_object", ["300.6900", "non-posting"]),
    ({"target_business_unit": "900"}, "target_business_unit", ["business unit 900", "inactive"]),
    ({"target_business_unit": "555"}, "target_business_unit", ["business unit 555", "not in the chart"]),
    ({"target_object": "7777"}, "target_object", ["object account 7777", "not in the chart"]),
    ({"target_subsidiary": "CC99"}, "target_subsidiary", ["subsidiary CC99", "not in the chart"]),
])
def test_unknown_or_unusable_targets_are_form_errors_naming_the_account(tenant, flow, chart, targets, field, words):
    err = errors_of(MappingRule(tenant=tenant, flow=flow, category="Meals", **targets))
    text = " ".join(err.message_dict[field])
    for word in words:
        assert word in text, text
    assert MappingRule.objects.count() == 0


def test_tenant_wide_rules_are_checked_against_every_target_connection_of_the_tenant(tenant, flow, chart):
    err = errors_of(MappingRule(tenant=tenant, category="Meals", target_business_unit="900", target_object="6110"))
    assert "900.6110" in " ".join(err.messages)


def test_fields_of_another_system_are_not_checked_against_jde_data(tenant, flow, chart):
    rule = add_rule(tenant, flow, category="Meals", target_object="6110", target_acumatica_account="99999")
    assert rule.reference_status == MappingRule.REF_UNCHECKED  # no Acumatica data cached: saved, flagged
    assert "acumatica_account" in rule.reference_message


def test_a_case_mismatch_suggests_the_real_key(tenant, flow):
    load_chart(flow.target, [{"kind": "account", "key": "200.6110.CC10"}])
    from mappings.reference import ReferenceSet

    refset = ReferenceSet.for_connection(flow.target)
    problems = refset.check_resolved({"business_unit": "200", "object": "6110", "subsidiary": "cc10"})
    assert problems and 'did you mean "200.6110.CC10"' in problems[0].message
