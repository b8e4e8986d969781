"""Audience and hygiene pages: access, the builder's save and live preview, members pages, exports,
hygiene preview/run/progress."""

import csv
import io
import json

import pytest
from django.db import transaction
from django.urls import reverse
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from sendinglists.audiences.models import HygieneJob, HygieneStatus
from sendinglists.audiences.services import audience_create
from sendinglists.models import Audience, ListContact, SubscriptionEvent
from tests.factories import ContactFactory, ListContactFactory, SendingListFactory
from tests.staff import staff_with


def url(name: str, sending_list, *args) -> str:
    return reverse(f"audiences:{name}", args=[sending_list.pk, *args])


# --- access ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["index", "new", "hygiene", "export_list"])
def test_anonymous_user_is_sent_to_login(client, audience_list, name):
    response = client.get(url(name, audience_list))

    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_staff_without_audience_permission_gets_403(client, audience_list):
    client.force_login(staff_with("sendinglists.view_listcontact"))

    assert client.get(url("index", audience_list)).status_code == 403


def test_viewer_may_try_rules_but_not_save(client, audience_list):
    client.force_login(staff_with("sendinglists.view_audience", "sendinglists.view_listcontact"))

    page = client.get(url("new", audience_list))
    save = client.post(url("new", audience_list), {"name": "Mine", "query": "sends > 1"})

    assert page.status_code == 200
    assert page.context["can_save"] is False
    assert save.status_code == 403
    assert Audience.objects.count() == 0


def test_hygiene_run_needs_permission_and_changes_nothing_without_it(client, audience_list):
    client.force_login(staff_with("sendinglists.view_listcontact"))

    response = client.post(url("hygiene", audience_list), {"action": "invalid_numbers", "step": "run"})

    assert response.status_code == 403
    assert HygieneJob.objects.count() == 0
    assert ListContact.objects.filter(sending_list=audience_list, active=True).count() == 3


def test_audience_of_another_list_is_404(admin_client, audience_list):
    other = SendingListFactory()
    audience = audience_create(sending_list=other, name="Theirs", query="sends > 1")

    assert admin_client.get(url("members", audience_list, audience.pk)).status_code == 404


# --- builder --------------------------------------------------------------------------------------


def test_saving_a_query_creates_the_audience_and_shows_its_members(admin_client, audience_list, staff_user):
    response = admin_client.post(
        url("new", audience_list),
        {"name": "  Engaged  Californians ", "query": "status=active and state = CA"},
    )

    audience = Audience.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("members", audience_list, audience.pk)
    assert (audience.name, audience.query, audience.created_by) == (
        "Engaged Californians",
        'status = active AND state = "CA"',
        staff_user,
    )
    members = admin_client.get(response["Location"])
    assert [m.contact.first_name for m, _ in members.context["rows"]] == ["ana"]
    assert members.context["count"] == 1


def test_invalid_query_is_shown_with_a_pointer_and_nothing_is_saved(admin_client, audience_list):
    response = admin_client.post(
        url("new", audience_list), {"name": "Broken", "query": "status = active AND"}
    )

    assert response.status_code == 400
    assert response.context["errors"] == {
        "query": ["Expected a condition (like status = active), found the end of the query (at position 19)"]
    }
    assert response.context["query_pointers"] == [" " * 19 + "^"]
    assert b"status = active AND\n                   ^</pre>" in response.content
    assert Audience.objects.count() == 0


def test_duplicate_name_is_refused(admin_client, audience_list):
    audience_create(sending_list=audience_list, name="VIPs", query="tag = vip")

    response = admin_client.post(url("new", audience_list), {"name": "VIPs", "query": "sends > 1"})

    assert response.status_code == 400
    assert response.context["errors"] == {"name": ["This list already has an audience named 'VIPs'."]}
    assert Audience.objects.count() == 1


def test_editing_an_audience_replaces_its_rules(admin_client, audience_list):
    audience = audience_create(sending_list=audience_list, name="VIPs", query="tag = vip")

    response = admin_client.post(
        url("edit", audience_list, audience.pk), {"name": "VIPs", "query": "tag = beta"}
    )

    audience.refresh_from_db()
    assert response.status_code == 302
    assert audience.query == 'tag = "beta"'
    assert audience.rules == {"group": "and", "rules": [{"field": "tag", "operator": "=", "value": "beta"}]}


def test_builder_page_carries_the_field_catalog_and_rules_for_the_script(admin_client, audience_list):
    audience = audience_create(sending_list=audience_list, name="VIPs", query="tag = vip OR plan = pro")

    response = admin_client.get(url("edit", audience_list, audience.pk))

    catalog = {field["name"]: field for field in response.context["catalog"]}
    assert catalog["plan"] == {
        "name": "plan",
        "label": "Plan",
        "kind": "custom_choice",
        "section": "Custom fields",
        "operators": ["=", "!=", "in", "not in", "is empty", "is not empty"],
        "choices": ["free", "pro", "business"],
        "help": "",
    }
    assert catalog["clicked_within"]["operators"] == ["="]
    assert response.context["rules"] == audience.rules
    assert b'id="audience-catalog"' in response.content
    assert b'id="audience-rules"' in response.content


def test_preview_counts_and_lists_matches_and_writes_the_canonical_query(admin_client, audience_list):
    rules = {
        "group": "or",
        "rules": [
            {"field": "tag", "operator": "=", "value": "VIP"},
            {"field": "blocked", "operator": "=", "value": True},
        ],
    }

    response = admin_client.post(
        url("preview", audience_list), json.dumps({"rules": rules}), content_type="application/json"
    )

    data = response.json()
    assert response.status_code == 200
    assert (data["ok"], data["count"], data["query"]) == (True, 3, 'tag = "VIP" OR blocked = true')
    assert [m["name"].split()[0] for m in data["members"]] == ["eve", "cleo", "ana"]
    assert data["members"][0]["url"] == f"/contacts/{audience_list.members['eve'].contact_id}/"


def test_preview_of_a_query_returns_the_rules_for_the_builder(admin_client, audience_list):
    response = admin_client.post(
        url("preview", audience_list), json.dumps({"query": "sends >= 12"}), content_type="application/json"
    )

    assert response.json()["rules"] == {
        "group": "and",
        "rules": [{"field": "sends", "operator": ">=", "value": 12}],
    }
    assert response.json()["count"] == 3


def test_preview_problem_names_the_rule_path_and_query_position(admin_client, audience_list):
    bad_rules = {
        "group": "and",
        "rules": [
            {"field": "sends", "operator": ">", "value": 1},
            {"field": "score", "operator": ">", "value": "x"},
        ],
    }

    by_rules = admin_client.post(
        url("preview", audience_list), json.dumps({"rules": bad_rules}), content_type="application/json"
    )
    by_query = admin_client.post(
        url("preview", audience_list),
        json.dumps({"query": "sends > 1 AND score > x"}),
        content_type="application/json",
    )
    not_json = admin_client.post(url("preview", audience_list), "rules", content_type="application/json")

    assert by_rules.status_code == by_query.status_code == not_json.status_code == 400
    assert by_rules.json() == {
        "ok": False,
        "problems": [{"path": "rules[1]", "message": "score: 'x' is not a number.", "position": None}],
    }
    assert by_query.json()["problems"] == [
        {"path": "rules[1]", "message": "score: 'x' is not a number.", "position": 14}
    ]
    assert not_json.json()["problems"][0]["message"] == "Send a JSON object."


# --- members, counts, export ----------------------------------------------------------------------


def test_members_page_walks_keyset_pages(admin_client, db):
    sending_list = SendingListFactory()
    memberships = [ListContactFactory(sending_list=sending_list, send_count=5) for _ in range(53)]
    audience = audience_create(sending_list=sending_list, name="Sent five", query="sends = 5")

    first = admin_client.get(url("members", sending_list, audience.pk))
    second = admin_client.get(
        first.context["page"].next_after
        and f"{url('members', sending_list, audience.pk)}?after={first.context['page'].next_after}"
    )

    newest_first = [m.pk for m in reversed(memberships)]
    assert [m.pk for m in first.context["page"].rows] == newest_first[:50]
    assert [m.pk for m in second.context["page"].rows] == newest_first[50:]
    assert second.context["page"].next_after is None
    assert first.context["count"] == second.context["count"] == 53


def test_members_page_runs_a_fixed_number_of_queries(
    admin_client, audience_list, django_assert_max_num_queries
):
    audience = audience_create(
        sending_list=audience_list, name="Everyone active", query="status = active AND tag != nosuch"
    )

    # session + user, list, summary counts, audience, custom fields, tags, page, count.
    # + 2 grouped queries of the opt-out series when its cache is cold
    with django_assert_max_num_queries(12):
        response = admin_client.get(url("members", audience_list, audience.pk))

    assert response.status_code == 200


def test_members_page_of_an_audience_whose_field_was_deleted_explains_instead_of_failing(
    admin_client, audience_list
):
    audience = audience_create(sending_list=audience_list, name="Scores", query="score > 1")
    audience_list.custom_fields.filter(key="score").delete()

    response = admin_client.get(url("members", audience_list, audience.pk))

    assert response.status_code == 409
    assert response.context["problems"][0]["message"].startswith("Unknown field 'score'.")


def test_count_json_and_index_page(admin_client, audience_list):
    audience = audience_create(sending_list=audience_list, name="Active", query="status = active")

    index = admin_client.get(url("index", audience_list))
    count = admin_client.get(url("count", audience_list, audience.pk))

    assert list(index.context["audiences"]) == [audience]
    assert count.json() == {"ok": True, "count": 2}  # ana and ben; eve is active but blocked


def test_list_export_and_members_page_read_a_blocked_contacts_membership_as_blocked(
    admin_client, audience_list
):
    export = admin_client.get(url("export_list", audience_list))
    audience = audience_create(sending_list=audience_list, name="Blocked", query="status = blocked")
    members = admin_client.get(url("members", audience_list, audience.pk))

    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    status = rows[0].index("status")
    assert {row[1]: row[status] for row in rows[1:]} == {
        "ana": "active",
        "ben": "active",
        "cleo": "message",
        "dev": "invalid_contact",
        "eve": "blocked",
        "fay": "complaint",
    }
    assert [m.contact.first_name for m in members.context["page"].rows] == ["eve"]
    assert '<span class="badge blocked">Blocked</span>' in members.content.decode()


def test_audience_export_view_streams_its_members(admin_client, audience_list):
    audience = audience_create(sending_list=audience_list, name="VIP", query="tag = vip")

    response = admin_client.get(url("export", audience_list, audience.pk))

    body = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert response["Content-Disposition"].startswith('attachment; filename="vip-')
    assert [row[1] for row in rows[1:]] == ["cleo", "ana"]
    assert rows[0][-6:] == ["notes", "plan", "score", "signup_date", "state", "vip"]


def test_list_export_with_a_query_filters_and_a_bad_query_redirects_with_the_error(
    admin_client, audience_list
):
    filtered = admin_client.get(url("export_list", audience_list) + "?q=blocked%3Dtrue")
    broken = admin_client.get(url("export_list", audience_list) + "?q=blocked%3D")

    rows = list(csv.reader(io.StringIO(b"".join(filtered.streaming_content).decode("utf-8-sig"))))
    assert [row[1] for row in rows[1:]] == ["eve"]
    assert broken.status_code == 302


def test_deleting_an_audience_keeps_its_members(admin_client, audience_list):
    audience = audience_create(sending_list=audience_list, name="VIP", query="tag = vip")

    response = admin_client.post(url("delete", audience_list, audience.pk))

    assert response.status_code == 302
    assert Audience.objects.count() == 0
    assert ListContact.objects.filter(sending_list=audience_list).count() == 6


# --- hygiene --------------------------------------------------------------------------------------


def test_hygiene_page_shows_the_opt_out_chart_and_previews_a_count(admin_client, audience_list):
    # The fixture's clicks are from 2025: today, every active member with 10+ sends (ana, ben; eve
    # too, but her contact is blocked: not an active member) has gone 30 days without a click.
    page = admin_client.get(url("hygiene", audience_list))
    preview = admin_client.post(
        url("hygiene", audience_list),
        {"action": "non_engagers", "step": "preview", "no_click_days": 30, "min_sends": 10},
    )

    assert page.status_code == 200
    assert len(page.context["chart"].days) == 30
    assert b"Opt-out rate, last 30 days" in page.content
    assert preview.context["preview"] == {
        "action": "non_engagers",
        "label": "Remove long-term non-engagers",
        "count": 2,
    }
    assert HygieneJob.objects.count() == 0


def test_hygiene_bad_parameters_are_shown_not_run(admin_client, audience_list):
    response = admin_client.post(
        url("hygiene", audience_list),
        {"action": "non_engagers", "step": "run", "no_click_days": 0, "min_sends": 10},
    )

    assert response.status_code == 400
    assert response.context["errors"] == {
        "no_click_days": ["Days without a click: a whole number from 1 to 3650."]
    }
    assert HygieneJob.objects.count() == 0


def test_hygiene_run_starts_the_job_and_reports_progress(
    admin_client, db, staff_user, django_capture_on_commit_callbacks
):
    sending_list = SendingListFactory()
    bad = ListContactFactory(sending_list=sending_list, contact=ContactFactory(is_valid=False))
    ListContactFactory(sending_list=sending_list)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            url("hygiene", sending_list), {"action": "invalid_numbers", "step": "run"}
        )

    job = HygieneJob.objects.get()
    assert response.status_code == 302
    assert (job.status, job.created_by, job.removed) == (HygieneStatus.COMPLETED, staff_user, 1)
    progress = admin_client.get(url("hygiene_job", sending_list, job.pk)).json()
    assert progress == {
        "id": job.pk,
        "status": "completed",
        "status_label": "Completed",
        "total": 1,
        "processed": 1,
        "removed": 1,
        "percent": 100,
        "failure_reason": "",
    }
    event = SubscriptionEvent.objects.get(list_contact=bad)
    assert (event.reason, event.user) == ("invalid_contact", staff_user)


def test_only_a_failed_job_can_be_resumed(admin_client, audience_list, django_capture_on_commit_callbacks):
    failed = HygieneJob.objects.create(
        sending_list=audience_list, action="invalid_numbers", status=HygieneStatus.FAILED
    )
    done = HygieneJob.objects.create(
        sending_list=audience_list, action="invalid_numbers", status=HygieneStatus.COMPLETED
    )

    with django_capture_on_commit_callbacks(execute=True):
        resumed = admin_client.post(url("hygiene_retry", audience_list, failed.pk))
    refused = admin_client.post(url("hygiene_retry", audience_list, done.pk))

    failed.refresh_from_db()
    assert resumed.status_code == 302
    assert failed.status == HygieneStatus.COMPLETED
    assert refused.status_code == 404


# --- the preview with any JSON: a 400 with problems, or a count -----------------------------------

_json_leaf = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
_json = st.recursive(
    _json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_rule = st.fixed_dictionaries(
    {
        "field": st.sampled_from(
            ["status", "tag", "sends", "revenue", "state", "score", "signup_date", "vip"]
        )
        | _json,
        "operator": st.sampled_from(["=", "!=", ">=", "in", "not in", "contains", "is empty", "between"])
        | _json,
        "value": _json,
    }
)
_rules = st.recursive(
    _rule,
    lambda inner: st.fixed_dictionaries(
        {"group": st.sampled_from(["and", "or", "xor"]) | _json, "rules": st.lists(inner, max_size=3) | _json}
    ),
    max_leaves=6,
)


@given(payload=st.fixed_dictionaries({"rules": _rules}) | st.fixed_dictionaries({"rules": _json}) | _json)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_preview_of_any_json_is_a_400_with_problems_or_a_count(admin_client, audience_list, payload):
    note(f"payload: {payload!r}")
    with transaction.atomic():  # a savepoint: one example's database error cannot abort the next
        response = admin_client.post(
            url("preview", audience_list), json.dumps(payload), content_type="application/json"
        )

    assert response.status_code in (200, 400), response.status_code
    body = response.json()
    if response.status_code == 400:
        assert body["ok"] is False
        assert body["problems"] and all(problem["message"].strip() for problem in body["problems"])
    else:
        assert body["ok"] is True and body["count"] >= len(body["members"])
