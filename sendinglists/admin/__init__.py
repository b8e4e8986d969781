"""The admin of contacts, sending lists, memberships and their history.

Every write goes through a service: status changes (unsubscribe, resubscribe, block) record a
SubscriptionEvent naming the staff user, deletions keep the list counts right, and exports
neutralize spreadsheet formulas.
"""

from sendinglists.admin import consent, contacts, lists, memberships  # noqa: F401 - registers the admins
