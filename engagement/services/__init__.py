"""Engagement services: inbound messages and keywords, sending, delivery reports, engagement events.

Every interface (webhooks, API, pages, tasks) calls these; they call the sendinglists.subscriptions services for
every change of a membership's status.
"""

from engagement.services.delivery import (
    StatusUpdate,
    UnknownMessage,
    delivery_report_receive,
    early_delivery_reports_apply,
    message_complaint_record,
    message_status_update,
)
from engagement.services.events import (
    RecordedConversion,
    RecordedSend,
    list_contact_record_click,
    list_contact_record_conversion,
    list_contact_record_send,
    list_contact_set_in_workflow,
)
from engagement.services.inbound.follow_up import inbound_follow_up_run, inbound_follow_ups_pending
from engagement.services.inbound.receive import InboundResult, inbound_message_receive
from engagement.services.inbound.review import inbound_message_review_dismiss, inbound_message_review_opt_out
from engagement.services.outbound import SendRefused, message_send

__all__ = [
    "InboundResult",
    "RecordedConversion",
    "RecordedSend",
    "SendRefused",
    "StatusUpdate",
    "UnknownMessage",
    "delivery_report_receive",
    "early_delivery_reports_apply",
    "inbound_follow_up_run",
    "inbound_follow_ups_pending",
    "inbound_message_receive",
    "inbound_message_review_dismiss",
    "inbound_message_review_opt_out",
    "list_contact_record_click",
    "list_contact_record_conversion",
    "list_contact_record_send",
    "list_contact_set_in_workflow",
    "message_complaint_record",
    "message_send",
    "message_status_update",
]
