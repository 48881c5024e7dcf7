"""Vocabularies shared by several apps. Values are stable API and database tokens; labels are translatable."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Kind(models.TextChoices):
    COMPLAINT = "complaint", _("投诉")
    HELP = "help", _("求助")
    QUESTION = "question", _("咨询")
    SUGGESTION = "suggestion", _("建议")
    PRAISE = "praise", _("表扬")
    PETITION = "petition", _("信访")


class Channel(models.TextChoices):
    WEB = "web", _("网站")
    API = "api", _("接口")
    OPEN311 = "open311", _("Open311")
    PHONE = "phone", _("来电")
    LETTER = "letter", _("来信")
    VISIT = "visit", _("来访")
    IMPORT = "import", _("导入")


class Priority(models.TextChoices):
    ORDINARY = "ordinary", _("一般")
    URGENT = "urgent", _("紧急")


#: Channels through which the public submit by themselves (anonymous endpoints).
PUBLIC_CHANNELS = frozenset({Channel.WEB, Channel.API, Channel.OPEN311})
#: Channels through which staff log an appeal on someone's behalf.
STAFF_CHANNELS = frozenset({Channel.PHONE, Channel.LETTER, Channel.VISIT})
