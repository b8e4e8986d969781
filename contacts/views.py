"""Contact search across every list. The contact page itself composes memberships and engagement,
so it lives with engagement (engagement/contacts/views.py): nothing in `contacts` imports the apps
that depend on it."""

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from contacts.forms import ContactSearchForm
from contacts.models import Contact
from contacts.pagination import KeysetPaginator, page_or_first
from contacts.selectors import contact_search, contacts_for_search


@require_GET
@staff_member_required
@permission_required("contacts.view_contact", raise_exception=True)
def contact_search_view(request):
    form = ContactSearchForm(request.GET)
    valid = form.is_valid()
    search = contact_search(form.cleaned_data["q"]) if valid else None
    paginator = KeysetPaginator(ordering="-id", model=Contact)
    # An invalid search shows its error and no contacts, rather than every contact.
    queryset = contacts_for_search(search) if valid else Contact.objects.none()
    page, warning = page_or_first(
        lambda **cursor: paginator.page(queryset, **cursor),
        after=request.GET.get("after"),
        before=request.GET.get("before"),
    )
    if warning:
        messages.warning(request, warning)
    return render(
        request,
        "contacts/contact_search.html",
        {"nav": "contacts", "form": form, "search": search, "page": page},
    )
