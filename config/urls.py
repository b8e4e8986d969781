from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/lists/", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/v1/", include("engagement.api.urls")),  # before api/: its catch-all answers 404
    path("api/", include("sendinglists.api_urls")),
    path("lists/<int:list_id>/audiences/", include("sendinglists.audiences.urls")),
    path("imports/", include("sendinglists.imports.urls")),
    path("", include("sendinglists.overview.urls")),
    path("", include("contacts.urls")),
    path("", include("engagement.contacts.urls")),  # the contact page composes all three apps
    path("", include("engagement.urls")),
]
