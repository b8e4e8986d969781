app_name = "sendinglists"
urlpatterns: list = []
