"""Inbound messages, one module per use case.

- `receive`: a webhook's message stored, its sender's contact created, its keyword applied, in one
  transaction (the opt-out is written before the webhook answers 2xx, so no lost task can lose it).
- `keyword_apply`: STOP / STOPALL / START applied in the order the person sent them.
- `follow_up`: the confirmation or HELP reply, run once by a Celery task after commit.
- `review`: the operator's decision on a message flagged as a possible opt-out.
"""
