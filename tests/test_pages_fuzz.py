"""Every operator page's query string, fuzzed: whatever is typed or pasted into a URL is a page or a
clear 4xx, never a server error. Runs on SQLite and on PostgreSQL."""

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from sendinglists.audiences.services import audience_create
from sendinglists.models import CustomField
from tests.factories import ContactFactory, ListContactFactory, SendingListFactory, UserFactory

ODD = [
    "",
    " ",
    "0",
    "-1",
    "1.5",
    "99999999999999999999",
    "abc",
    "\x00",
    "a\x00b",
    "2025-13-45",
    "2025-01-31",
    "plan",
    "score",
    "state",
    "pro",
    "active",
    "message",
    "import",
    "true",
    "é",
    "İ",
    "%",
    "_",
    "' OR 1=1 --",
    "+14155550100",
    "(415) 555-0100",
    "ana@example.com",
    "smith",
    "-id",
    "last_sent_at",
    "-revenue_total",
    "9" * 400,
]
_value = st.sampled_from(ODD) | st.text(max_size=12)


@pytest.fixture
def world(client, db):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    sending_list = SendingListFactory()
    CustomField.objects.create(
        sending_list=sending_list, key="plan", label="Plan", field_type="choice", choices=["free", "pro"]
    )
    CustomField.objects.create(sending_list=sending_list, key="score", label="Score", field_type="number")
    membership = ListContactFactory(sending_list=sending_list, custom_fields={"plan": "pro", "score": 5})
    ContactFactory()
    audience = audience_create(sending_list=sending_list, name="Pro", query="plan = pro")
    return {"list": sending_list.pk, "contact": membership.contact_id, "audience": audience.pk}


PAGES = {
    "/contacts/": ["q", "after", "before"],
    "/lists/": ["after", "before"],
    "/lists/{list}/": [
        "q",
        "status",
        "unsub_reason",
        "signup_method",
        "in_workflow",
        "tag",
        "field",
        "value",
        "ordering",
        "after",
        "before",
    ],
    "/lists/{list}/audiences/new/": ["q"],
    "/lists/{list}/audiences/export.csv": ["q"],
    "/contacts/{contact}/": ["after", "before"],
    "/lists/{list}/audiences/{audience}/": ["after"],
    "/lists/{list}/audiences/{audience}/edit/": ["q"],
    "/lists/{list}/audiences/{audience}/export.csv": [],
    "/imports/": ["list", "before"],
    "/imports/new/": ["list"],
    "/messages/review/": ["before"],
}


@given(
    page=st.sampled_from(sorted(PAGES)),
    values=st.dictionaries(
        st.sampled_from(sorted({p for ps in PAGES.values() for p in ps})), _value, max_size=5
    ),
)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_no_query_string_makes_a_page_fail(client, world, page, values):
    url = page.format(**world)
    params = {key: value for key, value in values.items() if key in PAGES[page]}
    note(f"GET {url} {params!r}")
    with transaction.atomic():  # a savepoint: one example's database error cannot abort the next
        response = client.get(url, params)
        if url.endswith(".csv") and response.status_code == 200:
            b"".join(response.streaming_content)  # the stream runs its query as it is read

    assert response.status_code in (200, 302, 400, 404), response.status_code  # 302: back, with a message
