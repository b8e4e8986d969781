from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from sendinglists.audiences.models import Audience
from sendinglists.audiences.services import audience_create, audience_delete, audience_update, segment_build

# --- audiences and imports ------------------------------------------------------------------------


class AudienceForm(forms.ModelForm):
    query = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text='The segment as a text query, e.g. <code>status = active AND tag = "vip"</code>.',
    )

    class Meta:
        model = Audience
        fields = ("sending_list", "name", "query")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["sending_list"].disabled = True

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("sending_list") and cleaned.get("query"):
            try:
                # Validated against the list's custom fields where every surface validates it.
                segment_build(sending_list=cleaned["sending_list"], query=cleaned["query"])
            except ValidationError as exc:
                self.add_error("query", exc.messages)
        return cleaned


@admin.register(Audience)
class AudienceAdmin(admin.ModelAdmin):
    form = AudienceForm
    list_display = ("name", "sending_list", "query", "created_by", "updated_at")
    list_filter = ("sending_list",)
    list_select_related = ("sending_list", "created_by")
    search_fields = ("name",)
    readonly_fields = ("rules", "created_by", "created_at", "updated_at")

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            saved = audience_update(audience=obj, name=data["name"], query=data["query"])
        else:
            saved = audience_create(
                sending_list=data["sending_list"],
                name=data["name"],
                query=data["query"],
                created_by=request.user,
            )
        obj.pk = saved.pk
        obj.refresh_from_db()
        obj._state.adding = False

    def delete_model(self, request, obj):
        audience_delete(audience=obj)

    def delete_queryset(self, request, queryset):
        for audience in queryset:
            audience_delete(audience=audience)
