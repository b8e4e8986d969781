import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("sms_contacts")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Use-case packages inside apps keep their own tasks modules.
app.autodiscover_tasks(["sendinglists.imports", "sendinglists.audiences"])
