from django.urls import path

from engagement import views, webhooks

app_name = "engagement"
urlpatterns = [
    path("webhooks/twilio/inbound", webhooks.twilio_inbound, name="twilio-inbound"),
    path("webhooks/twilio/status", webhooks.twilio_status, name="twilio-status"),
    path("webhooks/events", webhooks.signed_events, name="signed-events"),
    path("messages/review/", views.review_queue, name="review"),
    path("messages/<int:pk>/review/opt-out/", views.review_opt_out, name="review-opt-out"),
    path("messages/<int:pk>/review/dismiss/", views.review_dismiss, name="review-dismiss"),
]
