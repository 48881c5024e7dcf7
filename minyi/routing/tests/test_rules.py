"""Routing rules and history: which department a case of (category, region) is suggested to go to."""

from __future__ import annotations

import itertools
from datetime import datetime

import pytest

from minyi.accounts.models import Region
from minyi.cases.tests.factories import SHANGHAI, CategoryFactory, DepartmentFactory, RegionFactory
from minyi.routing.models import RoutingHistory, RoutingRule
from minyi.routing.services import (
    DepartmentSuggestion,
    history_department,
    rule_department,
    suggest_department,
)

pytestmark = pytest.mark.django_db

WHEN = datetime(2026, 3, 1, 8, 0, tzinfo=SHANGHAI)


@pytest.fixture
def tree():
    """Categories root > mid > leaf (and a sibling of leaf); regions city > district > street > community
    (and a sibling street)."""
    root = CategoryFactory(name="城乡建设")
    mid = CategoryFactory(name="住房保障", parent=root)
    leaf = CategoryFactory(name="物业管理", parent=mid)
    other_leaf = CategoryFactory(name="房屋租赁", parent=mid)
    city = RegionFactory(name="江城市", level=Region.Level.CITY)
    district = RegionFactory(name="江北区", parent=city)
    street = RegionFactory(name="滨江街道", level=Region.Level.STREET, parent=district)
    community = RegionFactory(name="幸福里社区", level=Region.Level.COMMUNITY, parent=street)
    other_street = RegionFactory(name="望江街道", level=Region.Level.STREET, parent=district)
    return {
        "root": root,
        "mid": mid,
        "leaf": leaf,
        "other_leaf": other_leaf,
        "city": city,
        "district": district,
        "street": street,
        "community": community,
        "other_street": other_street,
    }


def rule(category, region, **kwargs) -> RoutingRule:
    department = kwargs.pop("department", None) or DepartmentFactory()
    return RoutingRule.objects.create(category=category, region=region, department=department, **kwargs)


# --- rules -------------------------------------------------------------------------------------------


def test_specificity_order_over_the_whole_matrix(tree):
    """Every category ancestor × every region ancestor (and anywhere): the most specific wins, and switching
    it off hands over to the next one, in the documented order."""
    categories = ["leaf", "mid", "root"]  # deepest first
    regions = ["community", "street", "district", "city", None]  # deepest first, anywhere last
    rules = {(c, r): rule(tree[c], tree[r] if r else None) for c, r in itertools.product(categories, regions)}
    expected_order = [rules[(c, r)] for c in categories for r in regions]
    for expected in expected_order:
        found = rule_department(category_id=tree["leaf"].pk, region_id=tree["community"].pk)
        assert found == expected, (expected.category.name, expected.region and expected.region.name)
        expected.is_active = False
        expected.save()
    assert rule_department(category_id=tree["leaf"].pk, region_id=tree["community"].pk) is None


@pytest.mark.parametrize(
    ("case_category", "case_region", "expected"),
    [
        ("leaf", "community", ("leaf", "street")),
        ("leaf", "street", ("leaf", "street")),
        ("leaf", "district", ("leaf", None)),  # the street rule lies below the case's region
        ("leaf", "other_street", ("leaf", None)),  # a sibling region's rule does not apply
        ("mid", "community", ("mid", "district")),  # the leaf's rules lie below the case's category
        ("other_leaf", "street", ("mid", "district")),  # a sibling category's rules do not apply
        ("other_leaf", "other_street", ("mid", "district")),
        ("root", "community", None),
        ("leaf", None, ("leaf", None)),  # no region: only rules for anywhere
        ("mid", None, None),
    ],
)
def test_rules_apply_to_descendants_only(tree, case_category, case_region, expected):
    rules = {
        ("leaf", "street"): rule(tree["leaf"], tree["street"]),
        ("leaf", None): rule(tree["leaf"], None),
        ("mid", "district"): rule(tree["mid"], tree["district"]),
    }
    found = rule_department(
        category_id=tree[case_category].pk, region_id=tree[case_region].pk if case_region else None
    )
    assert found == (rules[expected] if expected else None)


def test_a_deeper_category_beats_a_deeper_region(tree):
    broad_category = rule(tree["root"], tree["community"])
    deep_category = rule(tree["leaf"], None)
    assert rule_department(category_id=tree["leaf"].pk, region_id=tree["community"].pk) == deep_category
    deep_category.delete()
    assert rule_department(category_id=tree["leaf"].pk, region_id=tree["community"].pk) == broad_category


def test_region_specific_beats_anywhere_for_the_same_category(tree):
    anywhere = rule(tree["leaf"], None)
    city = rule(tree["leaf"], tree["city"])
    assert rule_department(category_id=tree["leaf"].pk, region_id=tree["street"].pk) == city
    city.delete()
    assert rule_department(category_id=tree["leaf"].pk, region_id=tree["street"].pk) == anywhere


def test_inactive_rules_and_rules_of_inactive_departments_are_skipped(tree):
    closed = DepartmentFactory(is_active=False)
    rule(tree["leaf"], tree["community"], department=closed)
    rule(tree["leaf"], tree["street"], is_active=False)
    fallback = rule(tree["leaf"], tree["district"])
    assert rule_department(category_id=tree["leaf"].pk, region_id=tree["community"].pk) == fallback
    fallback.department.is_active = False
    fallback.department.save()
    assert rule_department(category_id=tree["leaf"].pk, region_id=tree["community"].pk) is None


def test_no_category_or_unknown_ids(tree):
    rule(tree["leaf"], None)
    assert rule_department(category_id=None, region_id=tree["street"].pk) is None
    assert rule_department(category_id=999_999, region_id=tree["street"].pk) is None
    # an unknown region counts as none: the rule for anywhere still applies
    assert rule_department(category_id=tree["leaf"].pk, region_id=999_999) is not None


def test_rule_lookup_takes_at_most_three_queries(tree, django_assert_max_num_queries):
    for c, r in itertools.product(["leaf", "mid", "root"], ["community", "street", "district", None]):
        rule(tree[c], tree[r] if r else None)
    with django_assert_max_num_queries(3):
        found = rule_department(category_id=tree["leaf"].pk, region_id=tree["community"].pk)
        assert found.department_id is not None


# --- history -----------------------------------------------------------------------------------------


def history(category, region, department, cases: int) -> RoutingHistory:
    return RoutingHistory.objects.create(
        category=category, region=region, department=department, cases=cases, updated_at=WHEN
    )


def test_history_picks_the_department_with_most_cases_and_its_share(tree):
    a, b, c = DepartmentFactory(), DepartmentFactory(), DepartmentFactory()
    history(tree["leaf"], tree["community"], a, 2)
    history(tree["leaf"], tree["community"], b, 6)
    history(tree["leaf"], tree["community"], c, 0)
    assert history_department(category_id=tree["leaf"].pk, region_id=tree["community"].pk) == (b.pk, 0.75)


def test_history_falls_back_to_the_nearest_ancestor_then_to_all_regions(tree):
    near, far, everywhere = DepartmentFactory(), DepartmentFactory(), DepartmentFactory()
    history(tree["leaf"], tree["city"], far, 50)
    history(tree["leaf"], tree["street"], near, 3)
    history(tree["leaf"], None, everywhere, 500)
    history(tree["leaf"], tree["other_street"], DepartmentFactory(), 99)  # a sibling: never used
    leaf = tree["leaf"].pk
    assert history_department(category_id=leaf, region_id=tree["community"].pk) == (near.pk, 1.0)
    assert history_department(category_id=leaf, region_id=tree["district"].pk) == (far.pk, 1.0)
    assert history_department(category_id=leaf, region_id=None) == (everywhere.pk, 1.0)
    RoutingHistory.objects.filter(region=tree["street"]).delete()
    assert history_department(category_id=leaf, region_id=tree["community"].pk) == (far.pk, 1.0)
    RoutingHistory.objects.filter(region=tree["city"]).delete()
    assert history_department(category_id=leaf, region_id=tree["community"].pk) == (everywhere.pk, 1.0)


def test_history_skips_inactive_departments_but_counts_their_cases_in_the_share(tree):
    closed, open_ = DepartmentFactory(is_active=False), DepartmentFactory()
    history(tree["leaf"], tree["street"], closed, 6)
    history(tree["leaf"], tree["street"], open_, 4)
    assert history_department(category_id=tree["leaf"].pk, region_id=tree["street"].pk) == (open_.pk, 0.4)


def test_a_level_with_only_inactive_departments_falls_through(tree):
    closed, fallback = DepartmentFactory(is_active=False), DepartmentFactory()
    history(tree["leaf"], tree["street"], closed, 9)
    history(tree["leaf"], tree["district"], fallback, 1)
    assert history_department(category_id=tree["leaf"].pk, region_id=tree["street"].pk) == (fallback.pk, 1.0)


def test_history_is_per_category_and_ties_go_to_the_lower_id(tree):
    first, second = DepartmentFactory(), DepartmentFactory()
    history(tree["mid"], tree["street"], DepartmentFactory(), 10)  # the parent category: not used
    history(tree["leaf"], tree["street"], second, 5)
    history(tree["leaf"], tree["street"], first, 5)
    assert history_department(category_id=tree["leaf"].pk, region_id=tree["street"].pk) == (
        min(first.pk, second.pk),
        0.5,
    )
    assert history_department(category_id=tree["other_leaf"].pk, region_id=tree["street"].pk) is None
    assert history_department(category_id=None, region_id=tree["street"].pk) is None


def test_history_takes_at_most_two_queries(tree, django_assert_max_num_queries):
    for region in ("community", "street", "district", "city"):
        history(tree["leaf"], tree[region], DepartmentFactory(), 3)
    with django_assert_max_num_queries(2):
        assert history_department(category_id=tree["leaf"].pk, region_id=tree["community"].pk) is not None


# --- suggestions --------------------------------------------------------------------------------------


def test_suggestion_prefers_the_rule_then_history_then_none(tree):
    by_history = DepartmentFactory()
    history(tree["leaf"], tree["street"], by_history, 3)
    history(tree["leaf"], tree["street"], DepartmentFactory(), 1)
    by_rule = rule(tree["mid"], None)
    ids = {"category_id": tree["leaf"].pk, "region_id": tree["community"].pk}
    assert suggest_department(**ids) == DepartmentSuggestion(
        department_id=by_rule.department_id, source="rule", rule_id=by_rule.pk
    )
    by_rule.is_active = False
    by_rule.save()
    assert suggest_department(**ids) == DepartmentSuggestion(
        department_id=by_history.pk, source="history", share=0.75
    )
    RoutingHistory.objects.all().delete()
    assert suggest_department(**ids) == DepartmentSuggestion(department_id=None, source="none")


def test_suggestion_without_a_category_is_none(tree):
    rule(tree["leaf"], None)
    assert suggest_department(category_id=None, region_id=tree["street"].pk).source == "none"


def test_suggestion_takes_at_most_four_queries(tree, django_assert_max_num_queries):
    history(tree["leaf"], None, DepartmentFactory(), 3)
    with django_assert_max_num_queries(4):
        found = suggest_department(category_id=tree["leaf"].pk, region_id=tree["community"].pk)
    assert found.source == "history"
