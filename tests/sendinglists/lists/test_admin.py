"""The list admins (sendinglists/lists/admin.py and the audiences and tokens admins): sending lists and their custom fields,
audiences, API tokens."""

import pytest
from django.urls import reverse

from sendinglists.models import ApiToken, Audience, SendingList
from sendinglists.tokens.services import api_token_create, api_token_for_key, api_token_hash
from tests.admin_forms import _action, _change, admin_form_data
from tests.factories import CustomFieldFactory, SendingListFactory

pytestmark = pytest.mark.django_db


def test_sending_list_form_normalizes_the_sender_and_custom_field_inline_checks_choices(admin_client):
    data = admin_form_data(admin_client.get(reverse("admin:sendinglists_sendinglist_add")))
    data.update(
        {
            "name": "Acme",
            "phone_number": "(800) 555-0142",
            "default_region": "us",
            "help_text": "Acme: reply STOP to opt out.",
            "opt_out_keywords": "[]",
            "opt_in_keywords": "[]",
            "custom_fields-TOTAL_FORMS": "1",
            "custom_fields-0-key": "tier",
            "custom_fields-0-label": "Tier",
            "custom_fields-0-field_type": "choice",
            "custom_fields-0-choices": "[]",
        }
    )

    refused = admin_client.post(reverse("admin:sendinglists_sendinglist_add"), data)
    data["custom_fields-0-choices"] = '["Gold", "Silver"]'
    created = admin_client.post(reverse("admin:sendinglists_sendinglist_add"), data)

    formset = refused.context["inline_admin_formsets"][0].formset
    assert formset.forms[0].errors["choices"] == ["A choice field needs at least one choice."]
    assert created.status_code == 302
    sending_list = SendingList.objects.get()
    assert (sending_list.phone_number, sending_list.default_region) == ("+18005550142", "US")
    assert list(sending_list.custom_fields.values_list("key", "field_type", "choices")) == [
        ("tier", "choice", ["Gold", "Silver"])
    ]


def test_creating_an_api_token_shows_the_plain_token_once_and_stores_only_its_hash(admin_client, staff_user):
    sending_list = SendingListFactory()
    data = admin_form_data(admin_client.get(reverse("admin:sendinglists_apitoken_add")))

    response = admin_client.post(
        reverse("admin:sendinglists_apitoken_add"),
        {**data, "name": "Shopify sync", "read_only": "on", "sending_lists": [sending_list.pk]},
        follow=True,
    )

    [message] = [str(m) for m in response.context["messages"] if "Copy it now" in str(m)]
    plain_key = message.rsplit(": ", 1)[1]
    token = ApiToken.objects.get()
    assert message == f"API token 'Shopify sync' created. Copy it now, it is not shown again: {plain_key}"
    assert token.key_hash == api_token_hash(plain_key)
    assert plain_key not in {token.key_hash, token.key_prefix}
    assert (token.name, token.read_only, token.created_by) == ("Shopify sync", True, staff_user)
    assert list(token.sending_lists.all()) == [sending_list]
    assert token.limited_to_lists is True
    assert plain_key.encode() not in admin_client.get(_change(token)).content


def test_api_token_chosen_lists_limit_it_and_clearing_them_in_the_admin_does_not_widen_it(admin_client):
    sending_list = SendingListFactory()
    token, _ = api_token_create(name="Everything")
    data = admin_form_data(admin_client.get(_change(token)))

    admin_client.post(_change(token), {**data, "sending_lists": [sending_list.pk]})
    token.refresh_from_db()
    assert (token.limited_to_lists, list(token.sending_lists.all())) == (True, [sending_list])

    data = admin_form_data(admin_client.get(_change(token)))
    del data["sending_lists"]
    admin_client.post(_change(token), data)
    token.refresh_from_db()
    assert (token.limited_to_lists, list(token.sending_lists.all())) == (True, [])
    assert api_token_for_key_scope(token) == []


def api_token_for_key_scope(token: ApiToken):
    """The list ids the API applies to `token` (None: every list)."""
    plain_key = "k" * 40
    ApiToken.objects.filter(pk=token.pk).update(key_hash=api_token_hash(plain_key))
    return api_token_for_key(plain_key).allowed_list_ids


def test_revoke_action_revokes_tokens(admin_client):
    token, _ = api_token_create(name="Old")

    _action(admin_client, "sendinglists.apitoken", "revoke_tokens", [token])

    token.refresh_from_db()
    assert token.revoked_at is not None


def test_audience_admin_saves_through_the_audience_services_and_reports_a_bad_query(admin_client, staff_user):
    sending_list = SendingListFactory()
    data = admin_form_data(admin_client.get(reverse("admin:sendinglists_audience_add")))
    data.update({"sending_list": str(sending_list.pk), "name": "Active", "query": "status = nonsense"})

    refused = admin_client.post(reverse("admin:sendinglists_audience_add"), data)
    data["query"] = "status=active"
    created = admin_client.post(reverse("admin:sendinglists_audience_add"), data)

    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors["query"]
    assert created.status_code == 302
    audience = Audience.objects.get()
    assert (audience.name, audience.query, audience.created_by) == ("Active", "status = active", staff_user)
    assert audience.rules["rules"] == [{"field": "status", "operator": "=", "value": "active"}]


def test_the_admin_refuses_custom_fields_over_the_list_limit_in_place(admin_client, settings):
    settings.CUSTOM_FIELDS_PER_LIST_MAX = 1
    sending_list = SendingListFactory(name="Acme")
    CustomFieldFactory(sending_list=sending_list, key="plan")
    add = reverse("admin:sendinglists_customfield_add")
    data = admin_form_data(admin_client.get(add))
    data.update(
        {
            "sending_list": sending_list.pk,
            "key": "tier",
            "label": "Tier",
            "field_type": "text",
            "choices": "[]",
        }
    )

    refused = admin_client.post(add, data)

    assert refused.status_code == 200
    assert refused.context["adminform"].form.non_field_errors() == [
        "A list can have at most 1 custom fields (CUSTOM_FIELDS_PER_LIST_MAX): 'Acme' has 1, and 1 more would make 2."
    ]
    change = reverse("admin:sendinglists_sendinglist_change", args=[sending_list.pk])
    data = admin_form_data(admin_client.get(change))
    data.update(
        {
            "custom_fields-TOTAL_FORMS": "2",
            "custom_fields-1-key": "tier",
            "custom_fields-1-label": "Tier",
            "custom_fields-1-field_type": "text",
            "custom_fields-1-choices": "[]",
        }
    )

    inline_refused = admin_client.post(change, data)

    assert inline_refused.status_code == 200
    formset = inline_refused.context["inline_admin_formsets"][0].formset
    assert formset.non_form_errors() == [
        "A list can have at most 1 custom fields (CUSTOM_FIELDS_PER_LIST_MAX): 'Acme' has 1, and 1 more would make 2."
    ]
    assert list(sending_list.custom_fields.values_list("key", flat=True)) == ["plan"]


def test_sending_list_form_refuses_an_unknown_region(admin_client):
    data = admin_form_data(admin_client.get(reverse("admin:sendinglists_sendinglist_add")))
    data.update(
        {
            "name": "Acme",
            "phone_number": "(800) 555-0142",
            "default_region": "zz",
            "opt_out_keywords": "[]",
            "opt_in_keywords": "[]",
        }
    )

    refused = admin_client.post(reverse("admin:sendinglists_sendinglist_add"), data)

    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors["default_region"] == [
        "'ZZ' is not a known country code (use e.g. US, GB, DE)."
    ]
    assert not SendingList.objects.exists()
