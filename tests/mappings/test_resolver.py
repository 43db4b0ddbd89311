"""Precedence, per-field resolution, normalization and query cost of the resolver."""

import itertools

import pytest

from mappings.models import MappingRule
from mappings.resolver import Resolver
from mappings.vocabulary import MATCH_ATTRIBUTES, specificity

from .conftest import add_rule, make_flow

_ids = itertools.count(1)


def R(flow_id=None, tags=None, **kw):
    """An unsaved rule with an id, for the pure resolver."""
    return MappingRule(pk=next(_ids), tenant_id=1, flow_id=flow_id, tags=tags or {}, **kw)


LINE = {"policy": "Field Sales", "category": "Meals", "employee": "ann@example.com", "tag:Cost Center": "CC10"}


def test_most_specific_wins_employee_category_over_policy_category_over_category():
    category = R(category="Meals", target_object="6110")
    policy_category = R(policy="Field Sales", category="Meals", target_object="6120")
    employee_category = R(employee="ann@example.com", category="Meals", target_object="6900")
    resolver = Resolver.from_rules([category, policy_category, employee_category])

    assert resolver.resolve(LINE) == {"object": "6900"}
    assert resolver.explain(LINE)["object"] is employee_category
    assert resolver.resolve({**LINE, "employee": "bob@example.com"}) == {"object": "6120"}
    assert resolver.resolve({**LINE, "employee": "bob@example.com", "policy": "HQ"}) == {"object": "6110"}
    assert resolver.resolve({"category": "Lodging"}) == {}


def test_order_of_rules_does_not_matter():
    rules = [R(category="Meals", target_object="6110"), R(policy="Field Sales", category="Meals", target_object="6120"),
             R(employee="ann@example.com", category="Meals", target_object="6900")]
    results = {Resolver.from_rules(list(p)).resolve(LINE)["object"] for p in itertools.permutations(rules)}
    assert results == {"6900"}


def test_more_conditions_beat_a_higher_ranked_single_condition():
    employee = R(employee="ann@example.com", target_business_unit="300")
    policy_tag = R(policy="Field Sales", tags={"Cost Center": "CC10"}, target_business_unit="250")
    resolver = Resolver.from_rules([employee, policy_tag])
    assert resolver.resolve(LINE)["business_unit"] == "250"
    assert resolver.resolve({**LINE, "tag:Cost Center": "CC20"})["business_unit"] == "300"


def test_same_count_ranks_decide_category_beats_policy_and_tags_beat_category():
    policy = R(policy="Field Sales", target_object="6000")
    category = R(category="Meals", target_object="6110")
    tag = R(tags={"Cost Center": "CC10"}, target_object="6111")
    assert Resolver.from_rules([policy, category]).resolve(LINE)["object"] == "6110"
    assert Resolver.from_rules([policy, category, tag]).resolve(LINE)["object"] == "6111"


def test_between_two_tag_lists_the_alphabetically_first_list_wins():
    cost_center = R(tags={"Cost Center": "CC10"}, target_subsidiary="CC10")
    project = R(tags={"Project": "PRJ-ALPHA"}, target_subsidiary="ALPHA")
    resolver = Resolver.from_rules([project, cost_center])
    assert resolver.resolve({**LINE, "tag:Project": "PRJ-ALPHA"})["subsidiary"] == "CC10"


def test_flow_scoped_rule_beats_tenant_wide_rule_with_the_same_match():
    tenant_wide = R(category="Meals", target_object="6110", target_subsidiary="CC99")
    scoped = R(flow_id=5, category="meals", target_object="6115")
    resolver = Resolver.from_rules([tenant_wide, scoped])
    # per field: the flow's rule sets object; the tenant-wide rule still provides the subsidiary
    assert resolver.resolve(LINE) == {"object": "6115", "subsidiary": "CC99"}
    assert resolver.explain(LINE) == {"object": scoped, "subsidiary": tenant_wide}
    # but a more specific tenant-wide rule beats a less specific flow rule
    specific = R(policy="Field Sales", category="Meals", target_object="6120")
    assert Resolver.from_rules([tenant_wide, scoped, specific]).resolve(LINE)["object"] == "6120"


def test_per_policy_routing_combines_with_category_and_cost_center_rules():
    rules = [
        R(policy="Field Sales", target_business_unit="200"),
        R(policy="HQ", target_business_unit="100"),
        R(category="Meals", target_object="6110"),
        R(category="Lodging", target_object="6120"),
        R(tags={"Cost Center": "CC10"}, target_subsidiary="CC10"),
        R(tags={"Cost Center": "CC20"}, target_subsidiary="CC20"),
        R(employee="ann@example.com", category="Meals", target_object="6900"),
    ]
    resolver = Resolver.from_rules(rules)
    assert resolver.resolve({"policy": "Field Sales", "category": "Meals", "tag:Cost Center": "CC10"}) == {
        "business_unit": "200", "object": "6110", "subsidiary": "CC10"}
    assert resolver.resolve({"policy": "HQ", "category": "Lodging", "tag:Cost Center": "CC20"}) == {
        "business_unit": "100", "object": "6120", "subsidiary": "CC20"}
    assert resolver.resolve({"policy": "HQ", "category": "Meals", "employee": "ann@example.com"}) == {
        "business_unit": "100", "object": "6900"}
    explained = resolver.explain({"policy": "HQ", "category": "Meals", "tag:Cost Center": "CC20"})
    assert [explained[f] for f in ("business_unit", "object", "subsidiary")] == [rules[1], rules[2], rules[5]]


def test_matching_ignores_case_and_surrounding_spaces_in_values_and_tag_list_names():
    resolver = Resolver.from_rules([
        R(policy=" Field Sales ", target_business_unit="200"),
        R(tags={"cost center": "cc10"}, target_subsidiary="CC10"),
        R(employee="Ann@Example.com", category="MEALS", target_object="6900"),
    ])
    attrs = {"policy": "FIELD SALES  ", "tag:Cost Center ": " CC10", "employee": "ann@EXAMPLE.COM", "category": "meals"}
    assert resolver.resolve(attrs) == {"business_unit": "200", "subsidiary": "CC10", "object": "6900"}
    # target values are returned as written (not lower-cased)
    assert resolver.resolve({"tag:COST CENTER": "Cc10"}) == {"subsidiary": "CC10"}


def test_blank_and_missing_attributes_do_not_match_and_values_may_be_numbers():
    resolver = Resolver.from_rules([R(category="Meals", target_object="6110"),
                                    R(jde_object="6110", target_procurify_account_code="61")])
    assert resolver.resolve({"category": "  "}) == {}
    assert resolver.resolve({"category": None}) == {}
    assert resolver.resolve({"jde_object": 6110}) == {"procurify_account_code": "61"}


def test_a_rule_with_no_match_is_the_least_specific_default():
    default = R(target_object="9999")
    category = R(category="Meals", target_object="6110")
    resolver = Resolver.from_rules([default, category])
    assert resolver.resolve({"category": "Meals"}) == {"object": "6110"}
    assert resolver.resolve({"category": "Gifts"}) == {"object": "9999"}


def test_inactive_rules_are_ignored_and_ties_in_memory_are_reported_not_random():
    a = R(category="Meals", target_object="6110")
    b = R(category="meals", target_object="6115")
    off = R(policy="HQ", target_business_unit="100", active=False)
    resolver = Resolver.from_rules([b, a, off])
    assert resolver.resolve({"category": "Meals", "policy": "HQ"}) == {"object": "6110"}  # lowest id wins
    assert resolver.conflicts == [(a, b, "object")]


def test_other_systems_targets_resolve_too():
    resolver = Resolver.from_rules([
        R(procurify_account_code="4000", procurify_department="Ops", target_business_unit="200", target_object="4000"),
        R(bill_account="Supplies", target_ifs_code_a="6200", target_ifs_code_b="CC10"),
        R(category="Software", target_acumatica_account="63000", target_acumatica_subaccount="000-000"),
        R(jde_object="6110", jde_business_unit="200", target_bill_chart_of_account_id="0ca01", target_bill_department_id="0de02"),
    ])
    assert resolver.resolve({"procurify_account_code": "4000", "procurify_department": "OPS"}) == {
        "business_unit": "200", "object": "4000"}
    assert resolver.resolve({"bill_account": "supplies"}) == {"ifs_code_a": "6200", "ifs_code_b": "CC10"}
    assert resolver.resolve({"category": "Software"}) == {"acumatica_account": "63000", "acumatica_subaccount": "000-000"}
    assert resolver.resolve({"jde_business_unit": "200", "jde_object": "6110"}) == {
        "bill_chart_of_account_id": "0ca01", "bill_department_id": "0de02"}


def test_specificity_is_a_strict_order_on_attribute_sets():
    attrs = [*MATCH_ATTRIBUTES, "tag:cost center", "tag:project"]
    seen = {}
    for n in range(0, 4):
        for combo in itertools.combinations(attrs, n):
            for scoped in (True, False):
                key = specificity(combo, scoped)
                assert key not in seen, (combo, seen.get(key))
                seen[key] = combo
    assert specificity(("employee", "category"), False) < specificity(("policy", "category"), False) < specificity(
        ("category",), False) < specificity(("policy",), False)
    assert specificity(("category",), True) < specificity(("category",), False)


@pytest.mark.django_db
def test_for_flow_loads_tenant_wide_and_own_flow_rules_only(tenant, flow, other_flow):
    other_same_tenant = make_flow(tenant, name="Second flow")
    add_rule(tenant, category="Meals", target_object="6110")
    add_rule(tenant, flow, category="Meals", target_object="6115")
    add_rule(tenant, other_same_tenant, category="Meals", target_object="6999")
    add_rule(other_flow.tenant, other_flow, category="Meals", target_object="6000")
    add_rule(tenant, policy="HQ", target_business_unit="100", active=False)
    resolver = Resolver.for_flow(flow)
    assert len(resolver) == 2
    assert resolver.resolve({"category": "meals", "policy": "HQ"}) == {"object": "6115"}
    assert Resolver.for_flow(other_same_tenant).resolve({"category": "meals"}) == {"object": "6999"}


@pytest.mark.django_db
@pytest.mark.parametrize("n_rules", [3, 300])
def test_for_flow_costs_one_query_whatever_the_number_of_rules(tenant, flow, django_assert_num_queries, n_rules):
    MappingRule.objects.bulk_create([
        MappingRule(tenant=tenant, flow=flow if i % 2 else None, category=f"Category {i}", target_object=str(6000 + i),
                    match_key=str(i))
        for i in range(n_rules)
    ])
    with django_assert_num_queries(1):
        resolver = Resolver.for_flow(flow)
        for i in range(n_rules):  # resolving a cycle's lines costs no query at all
            assert resolver.resolve({"category": f"category {i}"}) == {"object": str(6000 + i)}


def test_tag_order_in_a_rule_does_not_matter():
    a = R(tags={"Project": "PRJ-ALPHA", "Cost Center": "CC10"}, target_subsidiary="A")
    b = R(tags={"Cost Center": "CC20", "Project": "PRJ-ALPHA"}, target_subsidiary="B")
    resolver = Resolver.from_rules([a, b])
    assert len(resolver.shapes()) == 1
    assert resolver.resolve({"tag:Cost Center": "CC20", "tag:Project": "prj-alpha"}) == {"subsidiary": "B"}
