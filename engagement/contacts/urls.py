"""Routes of the contact page (see views for why it lives in `engagement`)."""

from django.urls import path

from engagement.contacts import merge_views, views

app_name = "contact_pages"
urlpatterns = [
    path("contacts/<int:contact_id>/", views.contact_detail, name="detail"),
    path("contacts/<int:contact_id>/edit/", views.contact_edit, name="edit"),
    path("contacts/<int:contact_id>/tags/", views.contact_tags, name="tags"),
    path("contacts/<int:contact_id>/merge/", merge_views.contact_merge, name="merge"),
    path("contacts/duplicates/", merge_views.contact_duplicates, name="duplicates"),
    path("contacts/<int:contact_id>/block/", views.contact_block_view, name="block"),
    path("contacts/<int:contact_id>/unblock/", views.contact_unblock_view, name="unblock"),
    path(
        "contacts/<int:contact_id>/lists/<int:membership_id>/unsubscribe/",
        views.membership_unsubscribe,
        name="unsubscribe",
    ),
    path(
        "contacts/<int:contact_id>/lists/<int:membership_id>/resubscribe/",
        views.membership_resubscribe,
        name="resubscribe",
    ),
    path(
        "contacts/<int:contact_id>/lists/<int:membership_id>/fields/",
        views.membership_custom_fields,
        name="custom-fields",
    ),
]
