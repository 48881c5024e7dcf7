"""TreeNode (materialised paths) through its real users: Department, Region, Category."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from minyi.accounts.models import Department, Region
from minyi.routing.models import Category

pytestmark = pytest.mark.django_db


def make(model, name, parent=None, **extra):
    return model.objects.create(name=name, code=f"{model.__name__.lower()}-{name}", parent=parent, **extra)


def test_path_and_depth_on_create():
    city = make(Region, "city", level=Region.Level.CITY)
    district = make(Region, "district", city)
    street = make(Region, "street", district, level=Region.Level.STREET)
    assert city.path == f"/{city.pk}/" and city.depth == 0
    assert district.path == f"/{city.pk}/{district.pk}/" and district.depth == 1
    assert street.path == f"/{city.pk}/{district.pk}/{street.pk}/" and street.depth == 2
    stored = Region.objects.get(pk=street.pk)
    assert (stored.path, stored.depth) == (street.path, 2)


def test_subtree_and_ancestors():
    root = make(Department, "root")
    a = make(Department, "a", root)
    a1 = make(Department, "a1", a)
    b = make(Department, "b", root)
    other = make(Department, "other")
    assert set(a.subtree()) == {a, a1}
    assert set(root.subtree()) == {root, a, a1, b}
    assert other not in set(root.subtree())
    assert list(a1.ancestors()) == [root, a, a1]
    assert list(root.ancestors()) == [root]


def test_prefix_of_a_sibling_id_is_not_a_descendant():
    """/1/ must not match /10/: paths end with a slash."""
    nodes = [make(Category, f"n{i}") for i in range(12)]
    first = nodes[0]
    tenth_plus = [n for n in nodes if str(n.pk).startswith(str(first.pk)) and n.pk != first.pk]
    child = make(Category, "child", first)
    assert set(first.subtree()) == {first, child}
    for node in tenth_plus:
        assert node not in set(first.subtree())


def test_moving_a_node_rewrites_its_descendants():
    root = make(Department, "root")
    a = make(Department, "a", root)
    a1 = make(Department, "a1", a)
    a11 = make(Department, "a11", a1)
    b = make(Department, "b", root)
    # when: a moves under b
    a.parent = b
    a.save()
    # then
    a1.refresh_from_db()
    a11.refresh_from_db()
    assert a.path == f"{b.path}{a.pk}/" and a.depth == 2
    assert a1.path == f"{b.path}{a.pk}/{a1.pk}/" and a1.depth == 3
    assert a11.path == f"{a1.path}{a11.pk}/" and a11.depth == 4
    assert set(b.subtree()) == {b, a, a1, a11}
    # when: a becomes a root
    a.parent = None
    a.save(update_fields=["parent"])
    a11.refresh_from_db()
    stored = Department.objects.get(pk=a.pk)
    assert stored.path == f"/{a.pk}/" and stored.depth == 0
    assert a11.path == f"/{a.pk}/{a1.pk}/{a11.pk}/" and a11.depth == 2


def test_a_node_cannot_become_its_own_descendant():
    root = make(Region, "root")
    child = make(Region, "child", root)
    grandchild = make(Region, "grandchild", child)
    root.parent = grandchild
    with pytest.raises(ValidationError) as info:
        root.full_clean()
    assert "parent" in info.value.message_dict
    root.parent = root
    with pytest.raises(ValidationError):
        root.full_clean()
    # a legal move passes validation
    grandchild = Region.objects.get(pk=grandchild.pk)
    grandchild.parent = Region.objects.get(pk=root.pk)
    grandchild.full_clean()


def test_validation_stops_on_a_cycle_held_in_memory():
    """A cycle among unsaved objects that does not pass through the node must not loop forever."""
    a = make(Region, "a")
    b = make(Region, "b")
    c = make(Region, "c")
    a.parent, b.parent = b, a  # a <-> b, in memory only
    c.parent = a
    c.full_clean()  # terminates; c is not its own ancestor


def test_saving_without_changes_keeps_paths():
    root = make(Department, "root")
    child = make(Department, "child", root)
    before = child.path
    child.name = "renamed"
    child.save()
    assert Department.objects.get(pk=child.pk).path == before
