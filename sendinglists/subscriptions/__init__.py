"""Memberships and consent: who is subscribed to which list, and every change of it.

`models` (ListContact, its facets, SubscriptionEvent), `subscribe` (subscribe, resubscribe), `opt_out`
(opt out one, many, a number, everywhere), `changes` (what every change shares: the event and the
consent ledger's update, the locked membership, the status counts), `consent` (the ledger read by
number), `memberships` (custom fields, delete), `rows` (a new membership's and an event's columns,
shared with the import's SQL writer), `selectors`, `forms`, `resources` (export), `api/`, `admin`.
"""
