"""Coverage: source values in use without a mapping, or mapped to an unusable target."""

from mappings.coverage import check_coverage
from mappings.models import MappingRule
from mappings.reference import ReferenceSet
from mappings.resolver import Resolver

from .conftest import JDE_CHART


def rules():
    return [
        MappingRule(pk=1, tenant_id=1, policy="Field Sales", target_business_unit="200"),
        MappingRule(pk=2, tenant_id=1, policy="Closed Region", target_business_unit="900"),
        MappingRule(pk=3, tenant_id=1, category="Meals", target_object="6110"),
        MappingRule(pk=4, tenant_id=1, category="Entertainment", target_object="6900"),
        MappingRule(pk=5, tenant_id=1, tags={"Cost Center": "CC10"}, target_subsidiary="CC10"),
        MappingRule(pk=6, tenant_id=1, tags={"Cost Center": "CC30"}, target_subsidiary="CC30"),
    ]


def test_unmapped_values_are_listed_with_the_missing_field():
    usages = [{"policy": "Field Sales", "category": "Meals"}, {"policy": "Field Sales", "category": "Gifts"},
              {"policy": "HQ", "category": "Meals"}]
    gaps = check_coverage(Resolver.from_rules(rules()), usages, required_fields=("business_unit", "object"))
    assert [(g.source["policy"], g.source["category"], g.field, g.reason) for g in gaps] == [
        ("Field Sales", "Gifts", "object", "unmapped"),
        ("HQ", "Meals", "business_unit", "unmapped"),
    ]
    assert 'category "Gifts"' in gaps[0].message and "object" in gaps[0].message


def test_inactive_unknown_and_non_posting_targets_are_listed_naming_account_and_rules():
    usages = [
        {"policy": "Field Sales", "category": "Meals", "tag:Cost Center": "CC10"},  # 200.6110.CC10 fine
        {"policy": "Closed Region", "category": "Meals"},  # 900.6110 inactive
        {"policy": "Field Sales", "category": "Meals", "tag:Cost Center": "CC30"},  # 200.6110.CC30 unknown
        {"policy": "Field Sales", "category": "Meals", "tag:Cost Center": "cc30"},  # same usage, reported once
    ]
    gaps = check_coverage(Resolver.from_rules(rules()), usages, required_fields=("business_unit", "object"),
                          reference=ReferenceSet(JDE_CHART, system="jde", name="JDE"))
    assert [(g.field, g.value, g.reason) for g in gaps] == [
        ("account", "900.6110", "inactive"), ("account", "200.6110.CC30", "unknown")]
    assert gaps[0].rule_ids == (2, 3)
    assert 'policy "Closed Region"' in gaps[0].message and "900.6110 is inactive" in gaps[0].message


def test_a_fallback_fills_fields_no_rule_sets_and_nothing_missing_means_no_gaps():
    usages = [{"policy": "Field Sales", "category": "Lodging", "category_gl_code": "6120"}]
    resolver = Resolver.from_rules(rules())
    assert check_coverage(resolver, usages, required_fields=("business_unit", "object"))[0].reason == "unmapped"
    gaps = check_coverage(resolver, usages, required_fields=("business_unit", "object"),
                          reference=ReferenceSet(JDE_CHART, system="jde"),
                          fallback=lambda attrs: {"object": attrs.get("category_gl_code")})
    assert gaps == []
