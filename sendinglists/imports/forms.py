"""The upload form and the column mapping form of the import pages. They only collect input; the
services validate it (and their messages are shown on the form)."""

from django import forms
from django.conf import settings

from sendinglists.choices import FieldType, ImportMode
from sendinglists.imports.mapping import CONTACT_TARGETS, CUSTOM_PREFIX, custom_key_for
from sendinglists.lists.models import SendingList

NEW_FIELD = "new"
NEW_FIELD_TYPES = [(value, label) for value, label in FieldType.choices if value != FieldType.CHOICE]


class ImportUploadForm(forms.Form):
    sending_list = forms.ModelChoiceField(queryset=SendingList.objects.order_by("name"), label="Sending list")
    file = forms.FileField(
        label="CSV file",
        help_text="Comma, semicolon or tab separated; UTF-8, UTF-16 or Windows-1252.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.tsv,text/csv,text/plain"}),
    )
    region = forms.CharField(
        required=False,
        max_length=2,
        label="Country for national numbers",
        help_text="Two letters, e.g. US or GB. Empty: the list's default region.",
        widget=forms.TextInput(attrs={"size": 3, "autocomplete": "off"}),
    )
    mode = forms.ChoiceField(
        required=False,  # empty: subscribe
        choices=ImportMode.choices,
        initial=ImportMode.SUBSCRIBE,
        widget=forms.RadioSelect,
        label="What the file is",
        help_text="An opt-out file (numbers that opted out on another platform) opts every number in it out "
        "of the list, known or not; an optional reason column takes message, bad_response, invalid_contact, "
        "manual or complaint.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        limit_mb = settings.IMPORT_MAX_UPLOAD_BYTES // (1024 * 1024)
        self.fields["file"].help_text += f" Up to {limit_mb:,} MB."


class MappingForm(forms.Form):
    """One target per column (`col_<i>`), plus key and type for a new custom field."""

    has_header = forms.BooleanField(required=False, label="The first row is a header")
    consent_confirmed = forms.BooleanField(required=False)
    consent_how = forms.CharField(
        required=False,
        max_length=500,
        label="How they gave consent",
        help_text="e.g. “Signed up at checkout on our website, 2024–2026”. Kept with the import as evidence.",
        widget=forms.TextInput(attrs={"size": 60}),
    )

    def __init__(self, *args, job, custom_fields: dict, samples: list[list[str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.job = job
        self.asks_consent = job.mode == ImportMode.SUBSCRIBE
        self.fields["consent_confirmed"].label = (
            f"I confirm that these contacts gave consent to receive text messages from "
            f"{job.sending_list.phone_number} ({job.sending_list.name})."
        )
        self.fields["has_header"].initial = job.has_header
        choices = [("", "Ignore this column")]
        choices += [(target, label) for target, label in CONTACT_TARGETS.items()]
        choices += [
            (f"{CUSTOM_PREFIX}{field.key}", f"Custom field: {field.label} ({field.get_field_type_display()})")
            for field in custom_fields.values()
        ]
        choices.append((NEW_FIELD, "New custom field…"))
        self.columns = []
        for index, name in enumerate(job.header):
            target = job.mapping.get(str(index), "")
            initial, key, field_type = target, custom_key_for(name), FieldType.TEXT
            if target.startswith(CUSTOM_PREFIX):
                guessed_key, _, guessed_type = target[len(CUSTOM_PREFIX) :].partition(":")
                if guessed_key not in custom_fields:
                    initial, key, field_type = NEW_FIELD, guessed_key, guessed_type or FieldType.TEXT
            self.fields[f"col_{index}"] = forms.ChoiceField(
                choices=choices, required=False, initial=initial, label=f"Column {name}"
            )
            self.fields[f"col_{index}_key"] = forms.CharField(
                required=False, initial=key, max_length=64, label=f"New field key for {name}"
            )
            self.fields[f"col_{index}_type"] = forms.ChoiceField(
                choices=NEW_FIELD_TYPES,
                initial=field_type,
                required=False,
                label=f"New field type for {name}",
            )
            self.columns.append(
                {
                    "index": index,
                    "name": name,
                    "samples": [row[index] for row in samples if index < len(row) and row[index].strip()][:3],
                    "target": self[f"col_{index}"],
                    "key": self[f"col_{index}_key"],
                    "type": self[f"col_{index}_type"],
                }
            )

    def clean(self):
        cleaned = super().clean()
        if self.asks_consent:
            if not cleaned.get("consent_confirmed"):
                self.add_error(
                    "consent_confirmed", "Confirm the contacts' consent to start an import that subscribes."
                )
            if not (cleaned.get("consent_how") or "").strip():
                self.add_error("consent_how", "Say how these contacts gave consent.")
        return cleaned

    def consent_attestation(self) -> str | None:
        """The attestation text the import keeps, or None for an opt-out file."""
        if not self.asks_consent:
            return None
        return f"{self.fields['consent_confirmed'].label} How: {self.cleaned_data['consent_how'].strip()}"

    def mapping(self) -> dict[str, str]:
        """The chosen mapping in the services' form (`custom:<key>:<type>` for new fields)."""
        mapping = {}
        for column in self.columns:
            index = column["index"]
            target = self.cleaned_data.get(f"col_{index}") or ""
            if target == NEW_FIELD:
                key = (self.cleaned_data.get(f"col_{index}_key") or "").strip()
                field_type = self.cleaned_data.get(f"col_{index}_type") or FieldType.TEXT
                target = f"{CUSTOM_PREFIX}{key}:{field_type}"
            mapping[str(index)] = target
        return mapping
