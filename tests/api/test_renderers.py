import datetime as dt
import uuid
from decimal import Decimal

from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer

from sendinglists.api.renderers import ApiJSONRenderer


def test_api_renderer_writes_what_drf_json_renderer_writes():
    data = {
        "when": dt.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC),
        "day": dt.date(2026, 1, 2),
        "money": Decimal("12.50"),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "lazy": gettext_lazy("This field is required."),
        "text": "naïve café ☕",
        "numbers": [1, 2.5, -3, True, None],
        "nested": {"tuple": (1, 2), "empty": {}},
        7: "an integer key",
    }
    assert ApiJSONRenderer().render(data) == JSONRenderer().render(data)


def test_api_renderer_falls_back_to_drf_for_integers_beyond_64_bits():
    data = {"big": 2**70}
    assert ApiJSONRenderer().render(data) == JSONRenderer().render(data) == b'{"big":1180591620717411303424}'


def test_api_renderer_indents_when_the_client_asks():
    rendered = ApiJSONRenderer().render({"a": 1}, "application/json; indent=2", {})
    assert rendered == JSONRenderer().render({"a": 1}, "application/json; indent=2", {})
