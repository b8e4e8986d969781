"""Audiences through the API: CRUD with rules or a query, count, members, the ad-hoc `?q=` filter,
error shape with positions, token scoping."""

import pytest
from rest_framework.test import APIClient

from sendinglists.models import Audience, ListContact
from sendinglists.tokens.services import api_token_create
from tests.factories import SendingListFactory


def client_for(**token_options) -> APIClient:
    _, key = api_token_create(name="audience tests", **token_options)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def api(db) -> APIClient:
    return client_for()


def audiences_url(sending_list, *parts) -> str:
    return "/".join([f"/api/v1/lists/{sending_list.pk}/audiences", *map(str, parts)]) + "/"


def phones_to_names(audience_list) -> dict[str, str]:
    return {m.contact.phone_number: label for label, m in audience_list.members.items()}


def test_create_from_a_query_returns_canonical_rules_and_query(api, audience_list):
    response = api.post(
        audiences_url(audience_list),
        {"name": "Hot CA", "query": "status=active and (state = CA or revenue>=50)"},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    audience = Audience.objects.get()
    assert body == {
        "id": audience.pk,
        "sending_list": audience_list.pk,
        "name": "Hot CA",
        "query": 'status = active AND (state = "CA" OR revenue >= 50)',
        "rules": {
            "group": "and",
            "rules": [
                {"field": "status", "operator": "=", "value": "active"},
                {
                    "group": "or",
                    "rules": [
                        {"field": "state", "operator": "=", "value": "CA"},
                        {"field": "revenue", "operator": ">=", "value": 50},
                    ],
                },
            ],
        },
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }


def test_create_from_rules(api, audience_list):
    rules = {"group": "or", "rules": [{"field": "tag", "operator": "in", "value": ["vip", "beta"]}]}

    response = api.post(audiences_url(audience_list), {"name": "Tagged", "rules": rules}, format="json")

    assert response.status_code == 201
    assert response.json()["query"] == 'tag in ("vip", "beta")'


def test_query_syntax_error_is_a_400_naming_the_position_and_creates_nothing(api, audience_list):
    response = api.post(
        audiences_url(audience_list), {"name": "Broken", "query": "sends >= 3 AND AND"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "query: Expected a field name, found 'AND' (at position 15)",
        "field_errors": {"query": ["Expected a field name, found 'AND' (at position 15)"]},
    }
    assert Audience.objects.count() == 0


def test_invalid_rules_are_a_400_naming_the_rule(api, audience_list):
    rules = {"group": "and", "rules": [{"field": "plan", "operator": "=", "value": "gold"}]}

    response = api.post(audiences_url(audience_list), {"name": "Gold", "rules": rules}, format="json")

    assert response.status_code == 400
    assert response.json()["field_errors"] == {"rules": ["plan: 'gold' is not one of: free, pro, business."]}


def test_duplicate_name_and_missing_rules_are_400s(api, audience_list):
    api.post(audiences_url(audience_list), {"name": "VIP", "query": "tag = vip"}, format="json")

    duplicate = api.post(audiences_url(audience_list), {"name": "VIP", "query": "tag = beta"}, format="json")
    no_name = api.post(audiences_url(audience_list), {"query": "tag = beta"}, format="json")

    assert duplicate.json()["field_errors"] == {"name": ["This list already has an audience named 'VIP'."]}
    assert no_name.json()["field_errors"] == {"name": ["This field is required."]}
    assert Audience.objects.count() == 1


def test_read_update_and_delete(api, audience_list):
    created = api.post(
        audiences_url(audience_list), {"name": "VIP", "query": "tag = vip"}, format="json"
    ).json()

    listed = api.get(audiences_url(audience_list))
    renamed = api.patch(
        audiences_url(audience_list, created["id"]), {"name": "Very important"}, format="json"
    )
    replaced = api.put(
        audiences_url(audience_list, created["id"]), {"name": "Beta", "query": "tag = beta"}, format="json"
    )
    incomplete = api.put(audiences_url(audience_list, created["id"]), {"name": "Beta"}, format="json")
    read = api.get(audiences_url(audience_list, created["id"]))
    deleted = api.delete(audiences_url(audience_list, created["id"]))

    assert [a["name"] for a in listed.json()["results"]] == ["VIP"]
    assert (renamed.status_code, renamed.json()["name"], renamed.json()["query"]) == (
        200,
        "Very important",
        'tag = "vip"',
    )
    assert (replaced.json()["name"], replaced.json()["query"]) == ("Beta", 'tag = "beta"')
    assert incomplete.json()["field_errors"] == {"rules": ["Send the audience's rules (or its query)."]}
    assert read.json()["query"] == 'tag = "beta"'
    assert deleted.status_code == 204
    assert Audience.objects.count() == 0
    assert ListContact.objects.filter(sending_list=audience_list).count() == 6


def test_count_and_members(api, audience_list):
    created = api.post(
        audiences_url(audience_list), {"name": "Active", "query": "status = active"}, format="json"
    ).json()
    names = phones_to_names(audience_list)

    count = api.get(audiences_url(audience_list, created["id"], "count").rstrip("/"))
    first = api.get(audiences_url(audience_list, created["id"], "contacts"), {"page_size": 1})
    second = api.get(first.json()["next"])
    by_sends = api.get(audiences_url(audience_list, created["id"], "contacts"), {"ordering": "-send_count"})

    # eve's membership is active, but her contact is blocked: she is not an active member.
    assert count.json() == {"id": created["id"], "count": 2}
    assert [names[m["contact"]["phone_number"]] for m in first.json()["results"]] == ["ben"]
    assert [names[m["contact"]["phone_number"]] for m in second.json()["results"]] == ["ana"]
    assert second.json()["next"] is None
    assert [names[m["contact"]["phone_number"]] for m in by_sends.json()["results"]] == ["ben", "ana"]


def test_members_of_an_audience_whose_field_was_deleted_is_a_400_saying_why(api, audience_list):
    created = api.post(
        audiences_url(audience_list), {"name": "Scores", "query": "score > 1"}, format="json"
    ).json()
    audience_list.custom_fields.filter(key="score").delete()

    response = api.get(audiences_url(audience_list, created["id"], "count").rstrip("/"))

    assert response.status_code == 400
    assert response.json()["field_errors"]["rules"][0].startswith("Unknown field 'score'.")


def test_list_contacts_filtered_by_a_text_query(api, audience_list):
    names = phones_to_names(audience_list)

    response = api.get(f"/api/v1/lists/{audience_list.pk}/contacts/", {"q": 'tag = vip OR state = "TX"'})
    combined = api.get(f"/api/v1/lists/{audience_list.pk}/contacts/", {"q": "tag = vip", "status": "active"})

    assert [names[m["contact"]["phone_number"]] for m in response.json()["results"]] == ["fay", "cleo", "ana"]
    assert [names[m["contact"]["phone_number"]] for m in combined.json()["results"]] == ["ana"]


def test_list_contacts_with_a_bad_query_is_a_400_with_the_position(api, audience_list):
    response = api.get(f"/api/v1/lists/{audience_list.pk}/contacts/", {"q": "sends >"})

    assert response.status_code == 400
    assert response.json()["field_errors"] == {
        "q": ["Expected a value after '>', found the end of the query (at position 7)"]
    }


def test_token_scoped_to_another_list_sees_no_audiences_here(audience_list):
    other = SendingListFactory()
    scoped = client_for(sending_lists=[other])

    listing = scoped.get(audiences_url(audience_list))
    creating = scoped.post(
        audiences_url(audience_list), {"name": "Mine", "query": "sends > 1"}, format="json"
    )

    assert listing.status_code == creating.status_code == 404
    assert Audience.objects.count() == 0


def test_read_only_token_cannot_create_or_delete(audience_list):
    read_only = client_for(read_only=True)

    response = read_only.post(
        audiences_url(audience_list), {"name": "Mine", "query": "sends > 1"}, format="json"
    )

    assert response.status_code == 403
    assert Audience.objects.count() == 0


def test_anonymous_request_is_refused(client, audience_list):
    assert APIClient().get(audiences_url(audience_list)).status_code == 401
