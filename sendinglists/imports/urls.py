from django.urls import path

from sendinglists.imports import views

app_name = "imports"
urlpatterns = [
    path("", views.import_index, name="index"),
    path("new/", views.import_new, name="new"),
    path("<int:job_id>/", views.import_detail, name="detail"),
    path("<int:job_id>/progress/", views.import_progress_json, name="progress"),
    path("<int:job_id>/cancel/", views.import_cancel_view, name="cancel"),
    path("<int:job_id>/errors.csv", views.import_error_report, name="errors"),
]
