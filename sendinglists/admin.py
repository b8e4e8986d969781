"""The sendinglists admin: Django's autodiscovery imports this module, and each use case registers its
own ModelAdmins in its room. Every write there goes through a service: status changes (unsubscribe,
resubscribe, block) record a SubscriptionEvent naming the staff user, deletions keep the list counts
right, and exports neutralize spreadsheet formulas.
"""

from sendinglists.audiences import admin as audiences_admin  # noqa: F401 - registers the admins
from sendinglists.contacts import admin as contacts_admin  # noqa: F401
from sendinglists.imports import admin as imports_admin  # noqa: F401
from sendinglists.lists import admin as lists_admin  # noqa: F401
from sendinglists.subscriptions import admin as subscriptions_admin  # noqa: F401
from sendinglists.tokens import admin as tokens_admin  # noqa: F401
