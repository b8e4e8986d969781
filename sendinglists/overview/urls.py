from django.urls import path

from sendinglists.overview import views

app_name = "sendinglists"
urlpatterns = [
    path("lists/", views.sending_list_index, name="index"),
    path("lists/<int:list_id>/", views.sending_list_contacts, name="contacts"),
    path("lists/<int:list_id>/fields/", views.sending_list_fields, name="fields"),
]
