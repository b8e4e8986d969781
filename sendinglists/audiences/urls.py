"""Pages under /lists/<list_id>/audiences/ (included once from config/urls.py)."""

from django.urls import path

from sendinglists.audiences import views

app_name = "audiences"
urlpatterns = [
    path("", views.audience_index, name="index"),
    path("new/", views.audience_builder, name="new"),
    path("preview/", views.audience_preview, name="preview"),
    path("export.csv", views.export_csv, name="export_list"),
    path("hygiene/", views.hygiene, name="hygiene"),
    path("hygiene/jobs/<int:job_id>.json", views.hygiene_job_json, name="hygiene_job"),
    path("hygiene/jobs/<int:job_id>/retry/", views.hygiene_job_retry_view, name="hygiene_retry"),
    path("<int:audience_id>/", views.audience_members, name="members"),
    path("<int:audience_id>/edit/", views.audience_builder, name="edit"),
    path("<int:audience_id>/delete/", views.audience_delete_view, name="delete"),
    path("<int:audience_id>/count.json", views.audience_count_json, name="count"),
    path("<int:audience_id>/export.csv", views.export_csv, name="export"),
]
