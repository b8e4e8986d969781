"""The admin change form as a browser posts it back: shared by the admin tests and the consent
property test."""


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
