import copy
import datetime as dt

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from contacts.jsonsafe import json_loads_bounded
from contacts.models import Tag
from contacts.selectors import tag_named
from sendinglists.api.parsers import NUL_MESSAGE, nul_path
from sendinglists.lists.models import SendingList
from sendinglists.lists.services import clean_custom_fields


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)  # a larger id cannot exist (and overflows SQLite)
        super().__init__(*args, **kwargs)


MAX_FORM_CLASSES = 256  # per FilterSet: queries name few combinations of filters; odd ones start over


class ApiFilterSet(django_filters.FilterSet):
    """A FilterSet that does per request only what differs per request.

    django-filter deep-copies every filter (with its choices and arguments) and builds a new form
    class (a form field per filter) on every request. Filters here take no per-request choices or
    querysets: each request gets shallow copies that point at it (their `parent`, which a
    `method=` filter calls), and its form holds only the filters the query names, from a class
    built once per set of names (form fields are templates that every form instance deep-copies).
    """

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        if queryset is None:
            queryset = self._meta.model._default_manager.all()
        self.is_bound = data is not None
        self.data = data or QueryDict()
        self.queryset = queryset
        self.request = request
        self.form_prefix = prefix
        self.filters = {}
        for name, template in self.base_filters.items():
            filter_ = copy.copy(template)
            if template.method is not None:
                filter_.method = template.method  # a FilterMethod bound to this copy, not the template
            filter_.model = queryset.model
            filter_.parent = self
            self.filters[name] = filter_

    def get_form_class(self):
        """A form of just the filters the query names (the others hold no value), built once per
        set of names: every form instance deep-copies and cleans each of its fields."""
        names = tuple(name for name in self.filters if name in self.data)
        filterset_class = type(self)
        form_classes = filterset_class.__dict__.get("_api_form_classes")
        if form_classes is None or len(form_classes) > MAX_FORM_CLASSES:
            form_classes = filterset_class._api_form_classes = {}
        form_class = form_classes.get(names)
        if form_class is None:
            fields = {name: self.filters[name].field for name in names}
            form_class = type(f"{filterset_class.__name__}Form", (self._meta.form,), fields)
            form_classes[names] = form_class
        return form_class


class UtcIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """ISO 8601 in, converted to UTC: PostgreSQL refuses UTC offsets beyond ±15:59, which ISO 8601
    allows (such a value was a 500)."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is not None and value.tzinfo is not None:
            try:
                return value.astimezone(dt.UTC)
            except OverflowError:
                raise forms.ValidationError("Out of range once converted to UTC.", code="invalid") from None
        return value


class SinceFilter(django_filters.IsoDateTimeFilter):
    """Rows whose `field_name` is at or after an ISO 8601 date-time (any UTC offset)."""

    field_class = UtcIsoDateTimeField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("lookup_expr", "gte")
        super().__init__(*args, **kwargs)


def custom_fields_value(raw: str, sending_list: SendingList | int) -> dict:
    try:
        values = json_loads_bounded(raw)
    except ValueError:
        values = None
    if nul_path(values):
        raise ValidationError({"custom_fields": NUL_MESSAGE})
    if not isinstance(values, dict) or not values:
        raise ValidationError(
            {"custom_fields": 'Expected a JSON object of field key (or id) to value, e.g. {"plan": "pro"}.'}
        )
    return clean_custom_fields(sending_list=sending_list, values=values)


def tag_filters(value: str) -> dict:
    tag = Tag.objects.filter(tag_named([value.strip()])).first()
    return {"tag": tag, "tag_missing": tag is None}
