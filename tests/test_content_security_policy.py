"""Every response carries a Content-Security-Policy that runs only this site's own scripts: files
from /static/ and inline scripts with the response's nonce, never inline event handlers."""

import re
from pathlib import Path

import pytest

from tests.factories import SendingListFactory, UserFactory

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def directives(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in policy.split(";") if part.strip())}


@pytest.fixture
def operator_client(client):
    client.force_login(UserFactory(username="operator", is_superuser=True))
    return client


@pytest.mark.parametrize("url", ["/admin/login/", "/lists/", "/admin/", "/api/docs/", "/api/schema/"])
def test_pages_admin_and_api_docs_allow_only_own_and_nonced_scripts(operator_client, url):
    if url == "/admin/login/":
        operator_client.logout()  # the login page itself, not its redirect
    response = operator_client.get(url)

    assert response.status_code == 200
    policy = directives(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"][0] == "'self'"
    assert [value for value in policy["script-src"][1:] if not value.startswith("'nonce-")] == []
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]


def test_an_inline_script_carries_the_nonce_of_its_response(operator_client):
    sending_list = SendingListFactory()

    response = operator_client.get(f"/lists/{sending_list.pk}/audiences/")

    nonce = next(v for v in directives(response)["script-src"] if v.startswith("'nonce-"))[7:-1]
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", response.content.decode())
    assert inline and all(f'nonce="{nonce}"' in attributes for attributes in inline)


def test_no_template_has_an_inline_script_without_the_nonce_or_an_inline_event_handler():
    offenders = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text()
        for match in re.finditer(r"<script(?![^>]*\bsrc=)[^>]*>", text):
            if "nonce=" not in match.group():
                offenders.append(f"{path.relative_to(TEMPLATES)}: {match.group()}")
        for match in re.finditer(r"<[a-z][^>]*\s(on[a-z]+)\s*=", text):
            offenders.append(f"{path.relative_to(TEMPLATES)}: {match.group(1)}= handler")

    assert offenders == []
