import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("sms_contacts")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Use-case packages inside apps keep their own tasks modules.
app.autodiscover_tasks(["sendinglists.lists", "sendinglists.imports", "sendinglists.audiences"])


def enqueue_on_commit(task_name: str, *args) -> None:
    """Enqueue the task named `task_name` once the current transaction commits (at once outside one).

    The rule for services and tasks: a tasks module imports its services, never the reverse. A service
    that needs background work names the task here instead of importing it, so no service/task cycle
    can form. The tasks modules are imported (Celery's autodiscovery, above) on the first unknown
    name; a name that no module defines raises KeyError at once, in the eager test runs too.
    """
    if task_name not in app.tasks:
        app.loader.import_default_modules()
    app.tasks[task_name].delay_on_commit(*args)
