"""The admin as a browser uses it: its URLs, a changelist's rows, an action or an export posted, and
the change form posted back. Shared by the admin tests and the consent property test."""

import csv
import io

from django.urls import reverse

from sendinglists.actors import Actor
from sendinglists.subscriptions.subscribe import list_contact_subscribe


def _changelist(app_model: str) -> str:
    return reverse(f"admin:{app_model.replace('.', '_')}_changelist")


def _subscribe(sending_list, contact, actor=None):
    return list_contact_subscribe(
        sending_list=sending_list,
        contact=contact,
        signup_method="api",
        actor=actor or Actor.system("test"),
    ).membership


def _change(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def _results(response) -> list:
    return list(response.context["cl"].result_list)


def _action(client, model: str, action: str, objects, **extra):
    data = {"action": action, "_selected_action": [obj.pk for obj in objects], **extra}
    return client.post(_changelist(model), data, follow=True)


def _export(client, model: str, resource_prefix: str, **filters) -> list[list[str]]:
    url = reverse(f"admin:{model.replace('.', '_')}_export")
    if filters:
        url += "?" + "&".join(f"{key}={value}" for key, value in filters.items())
    form = client.get(url).context["form"]
    fields = {name: "on" for name in form.fields if name.startswith(resource_prefix)}
    response = client.post(url, {"format": "0", "resource": "0", **fields})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


def admin_form_data(response) -> dict:
    """The POST data a browser would send back for the change form in `response`, inlines included."""
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms.append(inline.formset.management_form)
        forms.extend(inline.formset.forms)
    data = {}
    for form in forms:
        for name, field in form.fields.items():
            value = field.prepare_value(form[name].value())
            if value is None or value is False:
                continue
            if value is True:
                value = "on"
            data[form[name].html_name] = [str(v) for v in value] if isinstance(value, list) else value
    return data
