"""Keyword matching for inbound messages: the one place that decides what a reply means.

A keyword is the message's only word, case-insensitive, after trimming whitespace and punctuation
("Stop.", " STOP!! ", "stop 🙏" are STOP; "stop it" is not). The phrase "OPT OUT" (and "STOP ALL")
is the one exception to "only word". A sending list may add its own opt-out and opt-in words.
Opt-out wins any tie: a word that is both an opt-out and an opt-in keyword opts out.

A message that reads like an opt-out without being a keyword ("please stop texting me", "wrong
number") changes nothing by itself; it is flagged for an operator to review.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

from engagement.choices import KeywordKind

# Out of the sending list the message was sent to.
OPT_OUT_WORDS = frozenset({"STOP", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE", "OPT OUT"})
# Out of every list the contact belongs to.
OPT_OUT_ALL_WORDS = frozenset({"STOPALL", "STOP ALL"})
OPT_IN_WORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_WORDS = frozenset({"HELP", "INFO"})

# Reads like an opt-out: flagged for review, never acted on automatically.
_REVIEW_PATTERN = re.compile(
    r"""\b(
        stop | unsubscribe | cancel | quit | revoke | opt[\s-]*out
      | remove\s+(me|my)
      | take\s+me\s+off
      | wrong\s+(number|person)
      | (don'?t|do\s+not|never)\s+(text|message|contact|sms)
      | no\s+more\s+(texts|messages)
      | leave\s+me\s+alone
      | not\s+interested
      | lawyer | attorney | report(ed|ing)?\s+(you|this|as\s+spam)
    )\b""",
    re.IGNORECASE | re.VERBOSE,
)

_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True, slots=True)
class KeywordMatch:
    kind: KeywordKind
    keyword: str
    """The normalized keyword that matched (empty when none did)."""
    needs_review: bool = False


NO_MATCH = KeywordMatch(KeywordKind.NONE, "")


def normalize_keyword(text: str) -> str:
    """The words of `text`, upper-cased and joined by single spaces: the form keywords compare in."""
    return " ".join(word.upper() for word in _WORD.findall(text or ""))


def _normalized_set(words: Iterable) -> frozenset[str]:
    if not isinstance(words, list | tuple | set | frozenset):
        return frozenset()
    return frozenset(filter(None, (normalize_keyword(str(word)) for word in words)))


def match_keyword(body: str, *, list_opt_out: Iterable = (), list_opt_in: Iterable = ()) -> KeywordMatch:
    """What an inbound message's text asks for.

    `list_opt_out` / `list_opt_in` are the sending list's own extra keywords (words or phrases).
    The whole normalized text must equal a keyword, so a keyword inside a sentence never matches.
    """
    normalized = normalize_keyword(body)
    if normalized:
        if normalized in OPT_OUT_ALL_WORDS:
            return KeywordMatch(KeywordKind.OPT_OUT_ALL, normalized)
        if normalized in OPT_OUT_WORDS or normalized in _normalized_set(list_opt_out):
            return KeywordMatch(KeywordKind.OPT_OUT, normalized)
        if normalized in OPT_IN_WORDS or normalized in _normalized_set(list_opt_in):
            return KeywordMatch(KeywordKind.OPT_IN, normalized)
        if normalized in HELP_WORDS:
            return KeywordMatch(KeywordKind.HELP, normalized)
    if _REVIEW_PATTERN.search(body or ""):
        return KeywordMatch(KeywordKind.NONE, "", needs_review=True)
    return NO_MATCH
