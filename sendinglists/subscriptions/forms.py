from django import forms

from sendinglists.choices import FieldType
from sendinglists.lists.models import CustomField


class UnsubscribeForm(forms.Form):
    note = forms.CharField(
        required=False,
        max_length=500,
        label="Note (optional)",
        widget=forms.TextInput(attrs={"placeholder": "Note (optional)"}),
    )


class ResubscribeForm(forms.Form):
    note = forms.CharField(
        max_length=500,
        label="Why",
        widget=forms.TextInput(attrs={"placeholder": "Why may we message them again?"}),
        help_text="Recorded as compliance evidence, e.g. “Asked by phone on 12 May to receive offers again”.",
        error_messages={"required": "Say why this contact may be messaged again; it is recorded."},
    )


class MembershipCustomFieldsForm(forms.Form):
    """One input per custom field the list defines. Values merge: a blank input leaves the stored
    value as it is (the service never blanks a known value)."""

    def __init__(self, *args, custom_fields: list[CustomField], values: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.custom_fields = custom_fields
        for custom_field in custom_fields:
            current = values.get(custom_field.key)
            if custom_field.field_type == FieldType.CHOICE:
                form_field = forms.ChoiceField(
                    choices=[("", "—")] + [(c, c) for c in custom_field.choices], required=False
                )
            elif custom_field.field_type == FieldType.BOOLEAN:
                form_field = forms.ChoiceField(
                    choices=[("", "—"), ("true", "Yes"), ("false", "No")], required=False
                )
                current = "" if current is None else ("true" if current else "false")
            else:
                form_field = forms.CharField(required=False, max_length=500)
            form_field.label = custom_field.label
            form_field.initial = "" if current is None else current
            self.fields[f"cf_{custom_field.key}"] = form_field

    def values(self) -> dict:
        """The non-blank submitted values keyed by field key (the service validates their types)."""
        return {
            custom_field.key: self.cleaned_data[f"cf_{custom_field.key}"]
            for custom_field in self.custom_fields
            if str(self.cleaned_data.get(f"cf_{custom_field.key}", "")).strip()
        }
