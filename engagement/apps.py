from django.apps import AppConfig


class EngagementConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "engagement"

    def ready(self):
        # sendinglists' opt-out watch divides opt-outs by sends; the sends are ours to count.
        from engagement.selectors import sends_by_list_day
        from sendinglists.audiences.optout import register_send_counter

        register_send_counter(sends_by_list_day)
