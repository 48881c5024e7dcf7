"""Admin for people and the organisation: users (with their posts), departments, regions, API tokens."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from minyi.accounts.models import ApiToken, Department, Membership, Region, User

TREE_INDENT = "　"  # an ideographic space per level, as plain text (escaped like any value)


def tree_label(node) -> str:
    """A tree node's name indented by its depth, for change lists ordered by path."""
    return f"{TREE_INDENT * node.depth}{'└ ' if node.depth else ''}{node.name}"


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("department",)
    fields = ("department", "role", "created_at")
    readonly_fields = ("created_at",)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    inlines = (MembershipInline,)
    list_display = ("username", "display_name", "email", "roles", "is_active", "is_staff", "last_login")
    list_filter = ("is_active", "is_staff", "is_superuser", "memberships__role")
    search_fields = ("username", "display_name", "email", "first_name", "last_name")
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        (_("民意"), {"fields": ("display_name", "phone")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        (_("民意"), {"fields": ("display_name", "email")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("memberships__department")

    @admin.display(description=_("岗位"))
    def roles(self, obj: User) -> str:
        return "、".join(f"{m.department.name}·{m.get_role_display()}" for m in obj.memberships.all())


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("tree_name", "code", "region", "is_active", "reply_needs_approval")
    list_filter = ("is_active", "reply_needs_approval")
    search_fields = ("name", "code")
    autocomplete_fields = ("parent", "region")
    ordering = ("path",)
    list_select_related = ("region",)

    @admin.display(description=_("名称"), ordering="path")
    def tree_name(self, obj: Department) -> str:
        return tree_label(obj)


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ("tree_name", "code", "level", "aliases")
    list_filter = ("level",)
    search_fields = ("name", "code", "aliases")
    fields = ("name", "code", "level", "parent", "aliases")
    autocomplete_fields = ("parent",)
    ordering = ("path",)

    @admin.display(description=_("名称"), ordering="path")
    def tree_name(self, obj: Region) -> str:
        return tree_label(obj)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "department", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__username", "user__display_name", "department__name")
    autocomplete_fields = ("user", "department")
    list_select_related = ("user", "department")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued through the API's token exchange; here they can be seen and revoked (deleted)."""

    list_display = ("user", "created_at", "expires_at", "last_used_at")
    list_select_related = ("user",)
    search_fields = ("user__username",)
    fields = ("user", "created_at", "expires_at", "last_used_at")  # never the hash
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
