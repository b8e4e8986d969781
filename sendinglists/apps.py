from django.apps import AppConfig


class SendinglistsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "sendinglists"
