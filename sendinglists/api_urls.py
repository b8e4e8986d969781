"""/api/: v1 (integer ids), v2 (contact UUIDs), the OpenAPI schema and its browsable docs.

Routes take an optional trailing slash (seed 001 writes `/v1/contact-fields`). Seed 001's contact
paths (`/v1/contact/{id}`, `/v2/contact/{contactID}`, and create / update / delete / search / list
on `/v1/contact`) route to the same viewsets as the platform's plural `/contacts/` paths, which stay
as aliases: one implementation per operation. The seed's paths answer numbers in its form (E.164
digits without the plus); the plural ones in E.164 with the plus."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from contacts.phones import NumberForm
from sendinglists.api.viewsets import api_not_found
from sendinglists.audiences.api import AudienceViewSet, MembershipQueryViewSet
from sendinglists.contacts.api.views import ContactV2ViewSet, ContactViewSet, v2_integer_id_not_found
from sendinglists.imports.api.views import ImportViewSet
from sendinglists.lists.api.views import CustomFieldViewSet, ListCustomFieldViewSet, SendingListViewSet

app_name = "api"


class OptionalSlashRouter(SimpleRouter):
    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"


class SeedPathRouter(OptionalSlashRouter):
    """Seed 001's paths: the same viewsets, built to answer numbers as digits without the plus."""

    def get_routes(self, viewset):
        return [
            route._replace(initkwargs={**route.initkwargs, "number_form": NumberForm.DIGITS})
            for route in super().get_routes(viewset)
        ]


v1_seed = SeedPathRouter()
v1_seed.register("contact", ContactViewSet, basename="seed-contact")

v1 = OptionalSlashRouter()
v1.register("contacts", ContactViewSet, basename="contact")
# The memberships endpoint with the audience text query (`?q=`) as an extra filter.
v1.register(r"lists/(?P<list_id>[0-9]+)/contacts", MembershipQueryViewSet, basename="membership")
v1.register(r"lists/(?P<list_id>[0-9]+)/audiences", AudienceViewSet, basename="audience")
v1.register(
    r"lists/(?P<list_id>[0-9]+)/contact-fields", ListCustomFieldViewSet, basename="list-contact-field"
)
v1.register("lists", SendingListViewSet, basename="sending-list")
v1.register("contact-fields", CustomFieldViewSet, basename="contact-field")
v1.register("imports", ImportViewSet, basename="import")

v2_seed = SeedPathRouter()
v2_seed.register("contact", ContactV2ViewSet, basename="seed-contact")

v2 = OptionalSlashRouter()
v2.register("contacts", ContactV2ViewSet, basename="contact")


urlpatterns = [
    path("v1/", include((v1_seed.urls + v1.urls, "v1"))),
    re_path(r"^v2/contacts?/(?P<contact_id>[0-9]+)(?:/.*)?$", v2_integer_id_not_found),
    path("v2/", include((v2_seed.urls + v2.urls, "v2"))),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Split: Swagger UI's start-up script is fetched from docs/?script=, not inlined (CSP script-src).
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    # Anything else under a version is a JSON 404 (an integer contactID on v2 included).
    re_path(r"^v[0-9]+/", api_not_found),
]
