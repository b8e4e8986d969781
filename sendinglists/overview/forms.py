from django import forms

from contacts.models import Tag
from contacts.selectors import contact_search, tag_named
from sendinglists.choices import FieldType, MembershipStatus, SignupMethod, UnsubReason
from sendinglists.lists.customfields import convert_value
from sendinglists.lists.models import CustomField, SendingList
from sendinglists.subscriptions.selectors import (
    DEFAULT_LIST_CONTACT_ORDERING,
    LIST_CONTACT_ORDERINGS,
    ListContactFilters,
)

ANY = [("", "Any")]
WORKFLOW_CHOICES = [("", "Any"), ("yes", "In a workflow"), ("no", "Not in a workflow")]


class ListContactFilterForm(forms.Form):
    """The Contacts tab's search, filters and sort, from the query string."""

    q = forms.CharField(
        required=False,
        max_length=100,
        label="Search",
        widget=forms.TextInput(attrs={"placeholder": "Phone, email or name", "type": "search"}),
    )
    status = forms.ChoiceField(required=False, choices=ANY + MembershipStatus.choices)
    unsub_reason = forms.ChoiceField(
        required=False, label="Opt-out reason", choices=ANY + UnsubReason.choices
    )
    signup_method = forms.ChoiceField(
        required=False, label="Signup method", choices=ANY + SignupMethod.choices
    )
    in_workflow = forms.ChoiceField(required=False, label="Workflow", choices=WORKFLOW_CHOICES)
    tag = forms.CharField(required=False, max_length=50)
    field = forms.ChoiceField(required=False, label="Custom field")
    value = forms.CharField(required=False, max_length=200, label="equals")
    ordering = forms.ChoiceField(required=False, choices=list(LIST_CONTACT_ORDERINGS.items()), label="Sort")

    def __init__(self, *args, sending_list: SendingList, custom_fields: list[CustomField], **kwargs):
        super().__init__(*args, **kwargs)
        self.sending_list = sending_list
        self.custom_fields = {custom_field.key: custom_field for custom_field in custom_fields}
        self.fields["field"].choices = ANY + [(f.key, f.label) for f in custom_fields]

    def clean(self):
        cleaned = super().clean()
        key, value = cleaned.get("field"), (cleaned.get("value") or "").strip()
        cleaned["custom_fields"] = {}
        if key and not value:
            self.add_error("value", "Enter the value the custom field must equal.")
        elif value and not key:
            self.add_error("field", "Choose the custom field to compare.")
        elif key:
            custom_field = self.custom_fields[key]
            try:
                cleaned["custom_fields"] = {
                    key: convert_value(custom_field.field_type, value, custom_field.choices)
                }
            except ValueError as exc:
                self.add_error("value", f"{custom_field.label}: {exc}.")
        return cleaned

    def filters(self) -> ListContactFilters:
        """The validated filters (call after is_valid(); invalid fields are left out)."""
        data = getattr(self, "cleaned_data", {})
        tag, tag_missing = None, False
        if data.get("tag"):
            tag = Tag.objects.filter(tag_named([data["tag"]])).first()
            tag_missing = tag is None
        workflow = data.get("in_workflow")
        return ListContactFilters(
            search=contact_search(
                data.get("q", ""), region=self.sending_list.default_region, path="contact__"
            ),
            status=data.get("status", ""),
            unsub_reason=data.get("unsub_reason", ""),
            signup_method=data.get("signup_method", ""),
            in_workflow=None if not workflow else workflow == "yes",
            tag=tag,
            tag_missing=tag_missing,
            custom_fields=data.get("custom_fields", {}),
        )

    @property
    def sort_order(self) -> str:
        return getattr(self, "cleaned_data", {}).get("ordering") or DEFAULT_LIST_CONTACT_ORDERING


class CustomFieldForm(forms.Form):
    key = forms.SlugField(max_length=64, help_text="Letters, digits, _ and -; used in imports and the API.")
    label = forms.CharField(max_length=100, required=False)
    field_type = forms.ChoiceField(choices=FieldType.choices, label="Type")
    choices = forms.CharField(
        required=False, max_length=1000, help_text="For a choice field: the allowed values, comma-separated."
    )

    def clean_choices(self) -> list[str]:
        return [choice.strip() for choice in self.cleaned_data["choices"].split(",") if choice.strip()]
