"""/api/v1/ event ingestion (included before sendinglists.api_urls, whose catch-all answers 404)."""

from django.urls import re_path

from engagement.api import views

app_name = "engagement-api"
MEMBERSHIP = r"^lists/(?P<list_id>[0-9]+)/contacts/(?P<contact_id>[0-9]+)"
urlpatterns = [
    re_path(MEMBERSHIP + r"/sends/?$", views.RecordSendView.as_view(), name="sends"),
    re_path(MEMBERSHIP + r"/clicks/?$", views.RecordClickView.as_view(), name="clicks"),
    re_path(MEMBERSHIP + r"/conversions/?$", views.RecordConversionView.as_view(), name="conversions"),
    re_path(MEMBERSHIP + r"/workflow/?$", views.WorkflowView.as_view(), name="workflow"),
]
