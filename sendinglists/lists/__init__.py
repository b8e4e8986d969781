"""Sending lists: the sender numbers, their custom fields and their maintained member counts.

`models` (SendingList, CustomField, ListStatusCount), `services` (create a list, define custom
fields, count members by status), `customfields` (typed values), `tasks` (fold the count deltas),
`api/` (lists and contact fields endpoints), `admin`. The pages that show a list live in
`sendinglists.overview`: they show every room.
"""
