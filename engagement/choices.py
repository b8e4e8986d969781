from django.db import models


class Direction(models.TextChoices):
    OUTBOUND = "outbound", "Outbound"
    INBOUND = "inbound", "Inbound"


class MessageStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    UNDELIVERED = "undelivered", "Undelivered"
    FAILED = "failed", "Failed"
    RECEIVED = "received", "Received"


class KeywordKind(models.TextChoices):
    NONE = "", "None"
    OPT_OUT = "opt_out", "Opt-out"
    OPT_OUT_ALL = "opt_out_all", "Opt-out of every list"
    OPT_IN = "opt_in", "Opt-in"
    HELP = "help", "Help"
