from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        abstract = True


class Notification(models.Model):
    """An outgoing message: in-app for staff (recipient), e-mail for anyone (address).

    Rows are the outbox and the record; the e-mail itself is sent after commit by minyi.core.notify.
    """

    class Channel(models.TextChoices):
        INAPP = "inapp", _("站内")
        EMAIL = "email", _("电子邮件")
        SMS = "sms", _("短信")

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    address = models.CharField(_("地址"), max_length=254, blank=True)
    channel = models.CharField(_("渠道"), max_length=10, choices=Channel.choices, default=Channel.INAPP)
    subject = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("内容"), blank=True)
    case_id = models.BigIntegerField(_("案件"), null=True, blank=True, db_index=True)
    topic = models.CharField(_("类型"), max_length=40, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    read_at = models.DateTimeField(_("阅读时间"), null=True, blank=True)
    error = models.CharField(_("错误"), max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("通知")
        verbose_name_plural = _("通知")
        indexes = [models.Index(fields=["recipient", "read_at"], name="notif_recipient_unread")]

    def __str__(self) -> str:
        return self.subject


class TreeNode(models.Model):
    """A node in a tree with a materialised path ("/1/5/12/"), so a whole subtree is one indexed prefix query.

    The path is derived from the parent on save; moving a node rewrites its descendants' paths.
    """

    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        verbose_name=_("上级"),
    )
    path = models.CharField(max_length=255, editable=False, db_index=True, default="")
    depth = models.PositiveSmallIntegerField(editable=False, default=0)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        if self.pk is None:
            super().save(*args, **kwargs)
            self.path = self._computed_path()
            self.depth = self.path.count("/") - 2
            type(self).objects.filter(pk=self.pk).update(path=self.path, depth=self.depth)
            return
        old_path, self.path = self.path, self._computed_path()
        self.depth = self.path.count("/") - 2
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "path", "depth"}
        super().save(*args, **kwargs)
        if old_path and old_path != self.path:
            for node in (
                type(self).objects.filter(path__startswith=old_path).exclude(pk=self.pk).order_by("depth")
            ):
                node.path = self.path + node.path[len(old_path) :]
                node.depth = node.path.count("/") - 2
                type(self).objects.filter(pk=node.pk).update(path=node.path, depth=node.depth)

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.pk and self.parent_id:
            node, seen = self.parent, set()
            while node is not None and node.pk not in seen:  # `seen`: stop on a cycle that avoids self
                if node.pk == self.pk:
                    raise ValidationError({"parent": _("上级不能是自身或自身的下级。")})
                seen.add(node.pk)
                node = node.parent

    def _computed_path(self) -> str:
        return f"{self.parent.path if self.parent_id else '/'}{self.pk}/"

    def subtree(self):
        return type(self).objects.filter(path__startswith=self.path)

    def ancestors(self):
        ids = [int(p) for p in self.path.strip("/").split("/") if p]
        return type(self).objects.filter(pk__in=ids).order_by("depth")
