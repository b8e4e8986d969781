"""A contact as the lists see it: block and unblock, delete, phone changes and channels checked
against the consent ledger (`services`, `numbers`), and the contact's REST API and admin.

A contact interface lives in the lowest layer that sees everything it shows: the search page in
`contacts/views.py` (contacts alone), the API and admin here (memberships and list-scoped tokens), the
contact page in `engagement/contacts/` (messages, clicks and conversions).
"""
