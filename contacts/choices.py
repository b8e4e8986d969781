from django.db import models


class LineType(models.TextChoices):
    MOBILE = "mobile", "Mobile"
    LANDLINE = "landline", "Landline"
    VOIP = "voip", "VoIP"
    TOLL_FREE = "toll_free", "Toll-free"
    UNKNOWN = "unknown", "Unknown"


class ChannelKind(models.TextChoices):
    PHONE = "phone", "Phone"
    EMAIL = "email", "Email"


class SuppressionKind(models.TextChoices):
    OPT_OUT = "opt_out", "Opted out"
    BLOCK = "block", "Blocked"
    # Not a suppression: the number's START (or an audited resubscribe) on one list after its
    # STOPALL, which keeps standing on every other list, present and future.
    RESUMED = "resumed", "Resumed after STOPALL"
