from django import forms
from django.contrib import admin, messages

from sendinglists.admin_common import plural, selected_or_refuse
from sendinglists.tokens.models import ApiToken
from sendinglists.tokens.services import api_token_create, api_token_revoke

# --- API tokens -----------------------------------------------------------------------------------


class ApiTokenForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ("name", "read_only", "limited_to_lists", "sending_lists")
        help_texts = {
            "limited_to_lists": "Set by choosing lists below. Off (and no lists): every sending list.",
            "sending_lists": "Leave empty (and the box above off) for every sending list.",
        }

    def clean(self):
        cleaned_data = super().clean()
        # A limit only narrows: choosing lists limits the token, and clearing them does not widen it.
        if cleaned_data.get("sending_lists"):
            cleaned_data["limited_to_lists"] = True
        return cleaned_data


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created by `api_token_create`: the plain token is shown once, only a hash is kept."""

    form = ApiTokenForm
    list_display = (
        "name",
        "key_prefix",
        "read_only",
        "scope",
        "created_by",
        "created_at",
        "last_used_at",
        "state",
    )
    list_filter = ("read_only",)
    list_select_related = ("created_by",)
    search_fields = ("name", "key_prefix")
    filter_horizontal = ("sending_lists",)
    readonly_fields = ("key_prefix", "created_by", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke_tokens"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("sending_lists")

    @admin.display(description="Lists")
    def scope(self, token: ApiToken) -> str:
        lists = ", ".join(sl.phone_number for sl in token.sending_lists.all())
        if token.limited_to_lists:
            return lists or "No lists (all deleted)"
        return lists or "All lists"

    @admin.display(description="State")
    def state(self, token: ApiToken) -> str:
        return "Active" if token.is_active else f"Revoked {token.revoked_at:%Y-%m-%d %H:%M}"

    def save_model(self, request, obj, form, change):
        if change:
            obj.save()
            return
        token, plain_key = api_token_create(
            name=obj.name,
            read_only=obj.read_only,
            sending_lists=form.cleaned_data.get("sending_lists") or [],
            created_by=request.user,
        )
        obj.pk = token.pk
        obj.refresh_from_db()
        obj._state.adding = False
        self.message_user(
            request,
            f"API token {token.name!r} created. Copy it now, it is not shown again: {plain_key}",
            messages.WARNING,
        )

    @admin.action(
        description="Revoke selected tokens (their next request is refused)", permissions=["change"]
    )
    def revoke_tokens(self, request, queryset):
        tokens = selected_or_refuse(self, request, queryset)
        if tokens is None:
            return
        revoked = sum(api_token_revoke(token=token) for token in tokens)
        self.message_user(request, f"Revoked {plural(revoked, 'token')}.", messages.SUCCESS)
