from sendinglists.api.filters import ApiFilterSet, IdFilter
from sendinglists.lists.models import CustomField


class CustomFieldFilter(ApiFilterSet):
    sending_list = IdFilter(field_name="sending_list_id", help_text="Fields of this sending list.")

    class Meta:
        model = CustomField
        fields: list[str] = []
