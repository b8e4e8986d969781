"""What the demo is made of: the businesses, their custom fields and campaigns, and the people's
area codes and carriers. Plain data, read by `engagement.management.demo.builder`."""

import datetime as dt

from contacts.choices import LineType
from sendinglists.choices import ActorKind, SignupMethod, UnsubReason

STAFF = "demo staff"

# Who the subscription history names for each signup method and opt-out reason (inbound messages
# and imports are named per row).
SIGNUP_ACTORS = {
    SignupMethod.API: {"actor_kind": ActorKind.API_TOKEN, "actor_label": "API token Shopify sync"},
    SignupMethod.JOURNEY: {"actor_kind": ActorKind.SYSTEM, "actor_label": "Journey: Welcome series"},
    SignupMethod.MANUAL: {"actor_kind": ActorKind.USER, "actor_label": STAFF},
}
OPT_OUT_ACTORS = {
    UnsubReason.BAD_RESPONSE: {
        "actor_kind": ActorKind.DELIVERY,
        "actor_label": "3 carrier rejections in a row (30003)",
    },
    UnsubReason.INVALID_CONTACT: {
        "actor_kind": ActorKind.DELIVERY,
        "actor_label": "Carrier: unreachable or landline (30006)",
    },
    UnsubReason.MANUAL: {
        "actor_kind": ActorKind.USER,
        "actor_label": STAFF,
        "note": "Asked by phone to stop.",
    },
    UnsubReason.COMPLAINT: {
        "actor_kind": ActorKind.USER,
        "actor_label": STAFF,
        "note": "Reply reviewed as a complaint.",
    },
}

# (area code, IANA timezone)
AREA_CODES = [
    ("212", "America/New_York"),
    ("646", "America/New_York"),
    ("917", "America/New_York"),
    ("617", "America/New_York"),
    ("404", "America/New_York"),
    ("305", "America/New_York"),
    ("312", "America/Chicago"),
    ("773", "America/Chicago"),
    ("713", "America/Chicago"),
    ("512", "America/Chicago"),
    ("303", "America/Denver"),
    ("720", "America/Denver"),
    ("602", "America/Phoenix"),
    ("415", "America/Los_Angeles"),
    ("510", "America/Los_Angeles"),
    ("213", "America/Los_Angeles"),
    ("206", "America/Los_Angeles"),
    ("503", "America/Los_Angeles"),
    ("907", "America/Anchorage"),
    ("808", "Pacific/Honolulu"),
]

CARRIERS = {
    LineType.MOBILE: ["Verizon Wireless", "AT&T Mobility", "T-Mobile USA", "US Cellular", "Cricket Wireless"],
    LineType.LANDLINE: ["Lumen", "Frontier Communications", "Comcast Business"],
    LineType.VOIP: ["Google Voice", "Bandwidth.com", "Twilio"],
    LineType.UNKNOWN: [""],
}

# Reserved for documentation (RFC 2606): the demo never names a real mailbox.
EMAIL_DOMAINS = ["example.com", "example.net", "example.org"]

TAGS = [
    "vip",
    "newsletter",
    "wholesale",
    "black-friday",
    "loyalty",
    "birthday-club",
    "lapsed",
    "high-value",
    "referral",
    "student",
    "local",
    "early-access",
]


def campaigns(templates: list[tuple[str, str | None]], every_days: int) -> list[tuple[int, str, str | None]]:
    """(days ago, body, url) for a campaign every `every_days` days over the demo's history, oldest first."""
    days = list(range(390, 1, -every_days))
    return [(day, *templates[n % len(templates)]) for n, day in enumerate(days)]


LISTS = [
    {
        "phone": "+18005550100",
        "name": "Acme Outfitters",
        "help_text": "Acme Outfitters: gear drops & deals, up to 6 msgs/mo. Reply STOP to opt out, HELP for "
        "help. Msg & data rates may apply.",
        "share": 0.7,
        "stop_rate": 0.007,  # STOPs and complaints per campaign send
        "audiences": [  # saved segments (name, query)
            ("Clicked in the last 30 days", "status = active AND clicked_within = 30d"),
            ("Gold and Platinum", 'status = active AND loyalty_tier in ("Gold", "Platinum")'),
            ("Big spenders", "status = active AND (tag = vip OR revenue >= 200)"),
        ],
        "click_rate": 0.14,
        "revenue": (25, 240),
        "order_prefix": "ACME",
        "import_file": "acme-customers-2024.csv",
        "fields": [
            ("loyalty_tier", "Loyalty tier", "choice", ["Bronze", "Silver", "Gold", "Platinum"], None),
            ("first_purchase", "First purchase", "date", None, (40, 1500)),
            ("lifetime_orders", "Lifetime orders", "number", None, (0, 40)),
            ("favorite_category", "Favorite category", "choice", ["Outdoor", "Footwear", "Apparel"], None),
        ],
        "campaigns": campaigns(
            [
                (
                    "Acme: Trail season is here. 20% off hiking boots this weekend: https://acme.example/boots",
                    "https://acme.example/boots",
                ),
                (
                    "Acme: New arrivals in rain gear. Stay dry: https://acme.example/rain",
                    "https://acme.example/rain",
                ),
                ("Acme: Members get free shipping through Sunday. Reply STOP to opt out.", None),
                (
                    "Acme: Flash sale! Up to 40% off tents for 24 hours: https://acme.example/tents",
                    "https://acme.example/tents",
                ),
            ],
            every_days=14,
        ),
        "chatter": [
            "Do you have the Ridgeline boot in size 11?",
            "Thanks!",
            "What time do you close on Sunday?",
        ],
    },
    {
        "phone": "+18005550101",
        "name": "Bella's Pizza",
        "help_text": "Bella's Pizza deals, ~4 msgs/mo. Reply STOP to unsubscribe, HELP for help. "
        "Msg & data rates may apply.",
        "share": 0.45,
        "stop_rate": 0.045,  # STOPs and complaints per campaign send
        "audiences": [  # saved segments (name, query)
            ("Pepperoni fans", 'status = active AND favorite_topping = "Pepperoni"'),
            ("Regulars", "status = active AND orders_count >= 20"),
        ],
        "click_rate": 0.18,
        "revenue": (12, 64),
        "order_prefix": "BELLA",
        "import_file": "bellas-loyalty-export.csv",
        "fields": [
            (
                "favorite_topping",
                "Favorite topping",
                "choice",
                ["Pepperoni", "Margherita", "Mushroom", "Veggie"],
                None,
            ),
            ("birthday", "Birthday", "date", None, (6600, 25000)),
            ("orders_count", "Orders", "number", None, (1, 60)),
            (
                "delivery_zone",
                "Delivery zone",
                "text",
                None,
                ["Downtown", "Northside", "Riverside", "Old Town"],
            ),
        ],
        "campaigns": campaigns(
            [
                (
                    "Bella's: 2 large pizzas for $22 tonight only. Order: https://bellas.example/deal",
                    "https://bellas.example/deal",
                ),
                (
                    "Bella's: Happy Friday! Free garlic knots with any order: https://bellas.example/knots",
                    "https://bellas.example/knots",
                ),
                (
                    "Bella's: Game day bundle is back: https://bellas.example/gameday",
                    "https://bellas.example/gameday",
                ),
            ],
            every_days=10,
        ),
        "chatter": ["Do you deliver to Maple St?", "Can I get extra cheese on the deal?", "Thank you!!"],
    },
    {
        "phone": "+18885550102",
        "name": "City Fitness",
        "help_text": "City Fitness class alerts & offers. Reply STOP to opt out, HELP for help. "
        "Msg & data rates may apply.",
        "share": 0.35,
        "stop_rate": 0.005,  # STOPs and complaints per campaign send
        "audiences": [  # saved segments (name, query)
            ("Personal training", "status = active AND personal_training = true"),
            (
                "Harbor club, not clicked in 90 days",
                'status = active AND home_club = "Harbor" AND not_clicked_within = 90d',
            ),
        ],
        "click_rate": 0.1,
        "revenue": (29, 99),
        "order_prefix": "FIT",
        "import_file": "city-fitness-members.csv",
        "fields": [
            ("plan", "Plan", "choice", ["Basic", "Plus", "Premium"], None),
            ("home_club", "Home club", "text", None, ["Midtown", "Harbor", "Uptown", "Lakeside"]),
            ("member_since", "Member since", "date", None, (30, 2500)),
            ("personal_training", "Personal training", "boolean", None, 0.2),
        ],
        "campaigns": campaigns(
            [
                (
                    "City Fitness: New HIIT classes at 6am. Book: https://cityfit.example/hiit",
                    "https://cityfit.example/hiit",
                ),
                (
                    "City Fitness: Bring a friend free this week: https://cityfit.example/friend",
                    "https://cityfit.example/friend",
                ),
                ("City Fitness: Pool closed Monday for maintenance. Reply STOP to opt out.", None),
            ],
            every_days=21,
        ),
        "chatter": ["Is the Harbor club open on holidays?", "Thanks for the reminder"],
    },
    {
        "phone": "+18335550103",
        "name": "Riverside Dental reminders",
        "help_text": "Riverside Dental appointment reminders. Reply STOP to opt out, HELP for help.",
        "share": 0.15,
        "stop_rate": 0.002,  # STOPs and complaints per campaign send
        "audiences": [  # saved segments (name, query)
            ("Not texted in 30 days", "status = active AND not_sent_within = 30d"),
        ],
        "click_rate": 0.05,
        "revenue": (0, 0),
        "order_prefix": "DENT",
        "import_file": "riverside-patients.csv",
        "fields": [
            ("next_appointment", "Next appointment", "date", None, (-90, -1)),
            ("patient_id", "Patient id", "text", None, ["P-10482", "P-22817", "P-30551", "P-41209"]),
        ],
        "campaigns": campaigns(
            [
                (
                    "Riverside Dental: Time for your checkup! Book online: https://riverside.example/book",
                    "https://riverside.example/book",
                ),
                ("Riverside Dental: We're closed next Friday for staff training.", None),
            ],
            every_days=28,
        ),
        "chatter": ["Can I move my appointment to Thursday?", "Confirmed, thank you"],
    },
]


def field_value(rng, field_type: str, choices: list | None, sample):
    """A raw value for a custom field of `field_type` (validated by the list's fields afterwards)."""
    if field_type == "choice":
        return rng.choice(choices)
    if field_type == "number":
        return rng.randint(*sample)
    if field_type == "date":
        return (dt.date.today() - dt.timedelta(days=rng.randint(*sample))).isoformat()
    if field_type == "boolean":
        return rng.random() < sample
    return rng.choice(sample)
