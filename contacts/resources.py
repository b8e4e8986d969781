"""django-import-export resources for the admin's exports (export only: imports have their own pipeline).

Every exported cell goes through `neutralize_formula`, so a name or custom field value that starts
with `=`, `+`, `-` or `@` reaches a spreadsheet as text, never as a formula.
"""

from import_export import fields, resources
from import_export.formats import base_formats

from contacts.csvsafe import neutralize_formula
from contacts.models import Contact

# Spreadsheet-facing text formats only; the cells are neutralized for spreadsheets.
EXPORT_FORMATS = [base_formats.CSV, base_formats.TSV]


class FormulaSafeResource(resources.ModelResource):
    """A ModelResource whose exported cells cannot be run as spreadsheet formulas."""

    def export_field(self, field, instance, **kwargs):
        return neutralize_formula(super().export_field(field, instance, **kwargs))


CONTACT_EXPORT_FIELDS = (
    "id",
    "uuid",
    "phone_number",
    "email",
    "first_name",
    "last_name",
    "timezone",
    "carrier",
    "line_type",
    "is_valid",
    "blocked",
    "tags",
    "created_at",
    "updated_at",
)


class ContactResource(FormulaSafeResource):
    tags = fields.Field(column_name="tags")

    class Meta:
        model = Contact
        fields = CONTACT_EXPORT_FIELDS
        export_order = CONTACT_EXPORT_FIELDS
        chunk_size = 2000

    def filter_export(self, queryset, **kwargs):
        return queryset.prefetch_related("tags")

    def dehydrate_tags(self, contact: Contact) -> str:
        # Sorted in Python: the prefetched tags are already in memory.
        return ", ".join(sorted((tag.name for tag in contact.tags.all()), key=str.lower))
