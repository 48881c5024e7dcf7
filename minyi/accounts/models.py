from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from minyi.core.models import TreeNode


class User(AbstractUser):
    """A person with an account: staff, or a registered citizen. Roles come from Membership rows."""

    display_name = models.CharField(_("显示名"), max_length=64, blank=True)
    phone = models.CharField(_("电话"), max_length=32, blank=True)

    class Meta(AbstractUser.Meta):
        verbose_name = _("用户")
        verbose_name_plural = _("用户")

    def __str__(self) -> str:
        return self.display_name or self.username


class Department(TreeNode):
    """A body that handles appeals: a bureau, a district government, a hotline centre (a tree)."""

    name = models.CharField(_("名称"), max_length=100)
    code = models.SlugField(_("编码"), max_length=40, unique=True)
    region = models.ForeignKey(
        "accounts.Region",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="departments",
        verbose_name=_("所属区域"),
    )
    is_active = models.BooleanField(_("启用"), default=True)
    reply_needs_approval = models.BooleanField(
        _("答复需负责人审核"),
        default=False,
        help_text=_("开启后，承办人的答复须经部门负责人审核后才发给群众。"),
    )

    class Meta:
        ordering = ["path"]
        verbose_name = _("部门")
        verbose_name_plural = _("部门")

    def __str__(self) -> str:
        return self.name


class Region(TreeNode):
    """An administrative area: city, district/county, street/township, community/village (a tree)."""

    class Level(models.TextChoices):
        PROVINCE = "province", _("省")
        CITY = "city", _("市")
        DISTRICT = "district", _("区县")
        STREET = "street", _("街道乡镇")
        COMMUNITY = "community", _("社区村")

    name = models.CharField(_("名称"), max_length=100)
    code = models.SlugField(_("编码"), max_length=40, unique=True)
    level = models.CharField(_("级别"), max_length=12, choices=Level.choices, default=Level.DISTRICT)
    aliases = models.CharField(
        _("别名"), max_length=500, blank=True, help_text=_("地名识别用的其他叫法，以空格或顿号分隔")
    )

    class Meta:
        ordering = ["path"]
        verbose_name = _("区域")
        verbose_name_plural = _("区域")

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    INTAKE = "intake", _("受理员")
    DISPATCHER = "dispatcher", _("派单员")
    HANDLER = "handler", _("承办人")
    HEAD = "head", _("部门负责人")
    SUPERVISOR = "supervisor", _("督办员")
    LEADER = "leader", _("领导")
    ADMIN = "admin", _("系统管理员")


class Membership(models.Model):
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("用户")
    )
    department = models.ForeignKey(
        Department, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("部门")
    )
    role = models.CharField(_("角色"), max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("岗位")
        verbose_name_plural = _("岗位")
        constraints = [
            models.UniqueConstraint(fields=["user", "department", "role"], name="membership_unique"),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.department} · {self.get_role_display()}"


def _hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token for staff integrations. Only its hash is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("接口令牌")
        verbose_name_plural = _("接口令牌")

    def __str__(self) -> str:
        return f"{self.user} · {self.expires_at:%Y-%m-%d %H:%M}"

    @classmethod
    def issue(cls, user: User) -> tuple[ApiToken, str]:
        raw = secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user,
            key_hash=_hash_token(raw),
            expires_at=timezone.now() + settings.MINYI_API_TOKEN_LIFETIME,
        )
        return token, raw

    @classmethod
    def lookup(cls, raw: str) -> User | None:
        token = (
            cls.objects.select_related("user")
            .filter(key_hash=_hash_token(raw), expires_at__gt=timezone.now())
            .first()
        )
        if token is None or not token.user.is_active:
            return None
        return token.user
