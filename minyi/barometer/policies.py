"""Who sees what of the barometer. Views and APIs ask here and hold no rules of their own.

- Leaders, supervisors, admins and dispatchers (the hotline centre) see the whole barometer (``Scope.all``).
- Department heads and handlers see their own department and its sub-departments: the dashboards count only cases
  attributed to them, and topics and alerts only where their department is responsible or one of its cases is in it.
- Anyone else (intake officers alone, citizens) has no barometer: 403 for a signed-in user, login for the anonymous.
- The cases behind a chart, a topic or an alert are always filtered again by ``cases.policies.visible_cases``;
  an object outside the scope answers 404 (``NotFound``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from minyi.accounts.models import Role
from minyi.cases import policies as case_policies
from minyi.core.exceptions import Forbidden, NotFound

#: Roles that read the whole barometer.
ALL_ROLES = frozenset({Role.LEADER, Role.SUPERVISOR, Role.ADMIN, Role.DISPATCHER})
#: Roles that read their own department's part.
DEPARTMENT_ROLES = frozenset({Role.HEAD, Role.HANDLER})
#: Roles that may assign a topic to a department as one matter.
ASSIGN_TOPIC_ROLES = frozenset({Role.DISPATCHER, Role.SUPERVISOR})
#: Roles that may acknowledge and close any alert (department staff handle their own department's).
ALERT_ROLES = frozenset({Role.SUPERVISOR})
#: Roles that may generate a report on demand.
REPORT_ROLES = frozenset({Role.LEADER, Role.SUPERVISOR, Role.ADMIN})


@dataclass(frozen=True)
class Scope:
    """What part of the barometer a user reads: everything, or the departments (with sub-trees) listed."""

    all: bool
    department_ids: frozenset[int] = frozenset()

    def department_q(self, field: str = "department_id") -> Q | None:
        """A filter on `field` for this scope; None means no filter (everything)."""
        if self.all:
            return None
        return Q(**{f"{field}__in": sorted(self.department_ids)})

    def filter(self, queryset: QuerySet, field: str = "department_id") -> QuerySet:
        q = self.department_q(field)
        return queryset if q is None else queryset.filter(q)

    @property
    def cache_key(self) -> str:
        return "all" if self.all else "d" + "-".join(str(i) for i in sorted(self.department_ids))


def scope_for(user) -> Scope | None:
    """The user's barometer scope, or None when they have none."""
    actor = case_policies.actor_for_user(user)
    if not actor.is_staff_actor:
        return None
    if actor.roles & ALL_ROLES:
        return Scope(all=True)
    if actor.roles & DEPARTMENT_ROLES and actor.department_ids:
        return Scope(all=False, department_ids=actor.department_ids)
    return None


def can_view_barometer(user) -> bool:
    return scope_for(user) is not None


def require_barometer(user) -> Scope:
    """The scope, or Forbidden (403) for a signed-in user without one."""
    scope = scope_for(user)
    if scope is None:
        raise Forbidden(_("您没有查看晴雨表的权限。"))
    return scope


def _roles(user) -> frozenset[str]:
    actor = case_policies.actor_for_user(user)
    return actor.roles if actor.is_staff_actor else frozenset()


def visible_topics(user, queryset: QuerySet | None = None) -> QuerySet:
    """The topics `user` may see: all, or those their departments are responsible for or have a case in."""
    from minyi.barometer.models import Topic

    scope = require_barometer(user)
    qs = queryset if queryset is not None else Topic.objects.all()
    if scope.all:
        return qs
    ids = sorted(scope.department_ids)
    return qs.filter(Q(department_id__in=ids) | Q(members__case__department_id__in=ids)).distinct()


def get_topic(user, topic_id: int):
    topic = visible_topics(user).filter(pk=topic_id).first()
    if topic is None:
        raise NotFound(_("没有这个热点。"))
    return topic


def can_assign_topic(user) -> bool:
    return bool(_roles(user) & ASSIGN_TOPIC_ROLES)


def visible_alerts(user, queryset: QuerySet | None = None) -> QuerySet:
    """The alerts `user` may see: all, or those of their departments (responsible, or one of their cases in it)."""
    from minyi.barometer.models import Alert

    scope = require_barometer(user)
    qs = queryset if queryset is not None else Alert.objects.all()
    if scope.all:
        return qs
    ids = sorted(scope.department_ids)
    return qs.filter(Q(department_id__in=ids) | Q(alert_cases__case__department_id__in=ids)).distinct()


def get_alert(user, alert_id: int):
    alert = visible_alerts(user).filter(pk=alert_id).first()
    if alert is None:
        raise NotFound(_("没有这条预警。"))
    return alert


def can_handle_alert(user, alert) -> bool:
    """Acknowledge and close: supervisors any alert; heads and handlers the alerts their department is responsible for."""
    actor = case_policies.actor_for_user(user)
    if not actor.is_staff_actor:
        return False
    if actor.roles & ALERT_ROLES:
        return True
    return bool(
        actor.roles & DEPARTMENT_ROLES and alert.department_id and alert.department_id in actor.department_ids
    )


def can_reopen_alert(user) -> bool:
    """Reopening a closed alert is the supervisors' (ALERT_ROLES)."""
    actor = case_policies.actor_for_user(user)
    return actor.is_staff_actor and bool(actor.roles & ALERT_ROLES)


def can_view_reports(user) -> bool:
    scope = scope_for(user)
    return scope is not None and scope.all


def can_generate_report(user) -> bool:
    return can_view_reports(user) and bool(_roles(user) & REPORT_ROLES)


def visible_cases(user) -> QuerySet:
    """The cases behind a chart, topic or alert that `user` may open (the case policy, unchanged)."""
    return case_policies.visible_cases(user)
