"""Forms of the contact pages. They check input and show errors in place; the services write."""

import zoneinfo
from functools import cache

from django import forms

from contacts.models import MAX_TAGS_PER_CONTACT, Contact


@cache
def _time_zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class ContactSearchForm(forms.Form):
    q = forms.CharField(
        required=False,
        max_length=100,
        label="Search",
        widget=forms.TextInput(
            attrs={"placeholder": "Phone in any format, email or name", "type": "search", "autofocus": True}
        ),
    )


class ContactEditForm(forms.Form):
    """The contact's own fields. The phone number is its identity and is not edited here."""

    first_name = forms.CharField(required=False, max_length=100)
    last_name = forms.CharField(required=False, max_length=100)
    email = forms.EmailField(required=False)
    timezone = forms.CharField(
        required=False, max_length=64, help_text="IANA name, e.g. America/New_York", label="Time zone"
    )
    carrier = forms.CharField(required=False, max_length=100)

    @classmethod
    def for_contact(cls, contact: Contact, data=None) -> "ContactEditForm":
        return cls(data, initial={name: getattr(contact, name) for name in cls.base_fields}, prefix="edit")

    def clean_timezone(self) -> str:
        name = self.cleaned_data["timezone"].strip()
        if name and name not in _time_zone_names():
            raise forms.ValidationError(f"{name[:64]} is not a time zone name; use e.g. America/New_York.")
        return name


class ContactTagsForm(forms.Form):
    tags = forms.CharField(
        required=False,
        max_length=400,
        help_text=f"Comma-separated, at most {MAX_TAGS_PER_CONTACT}.",
    )

    @classmethod
    def for_contact(cls, contact: Contact, data=None) -> "ContactTagsForm":
        names = ", ".join(tag.name for tag in contact.tags.all())
        return cls(data, initial={"tags": names}, prefix="tags")

    def names(self) -> list[str]:
        return [name.strip() for name in self.cleaned_data["tags"].split(",") if name.strip()]
