import pytest

from engagement.choices import KeywordKind
from engagement.keywords import match_keyword


@pytest.mark.parametrize(
    ("body", "kind", "keyword"),
    [
        ("STOP", KeywordKind.OPT_OUT, "STOP"),
        ("UNSUBSCRIBE", KeywordKind.OPT_OUT, "UNSUBSCRIBE"),
        ("CANCEL", KeywordKind.OPT_OUT, "CANCEL"),
        ("END", KeywordKind.OPT_OUT, "END"),
        ("QUIT", KeywordKind.OPT_OUT, "QUIT"),
        ("OPTOUT", KeywordKind.OPT_OUT, "OPTOUT"),
        ("REVOKE", KeywordKind.OPT_OUT, "REVOKE"),
        ("OPT OUT", KeywordKind.OPT_OUT, "OPT OUT"),
        ("STOPALL", KeywordKind.OPT_OUT_ALL, "STOPALL"),
        ("START", KeywordKind.OPT_IN, "START"),
        ("UNSTOP", KeywordKind.OPT_IN, "UNSTOP"),
        ("YES", KeywordKind.OPT_IN, "YES"),
        ("HELP", KeywordKind.HELP, "HELP"),
        ("INFO", KeywordKind.HELP, "INFO"),
    ],
)
def test_every_keyword_matches_its_kind(body, kind, keyword):
    assert match_keyword(body) == match_keyword(body.lower()) == match_keyword(body.title())
    assert (match_keyword(body).kind, match_keyword(body).keyword) == (kind, keyword)


@pytest.mark.parametrize(
    "body",
    ["stop", " Stop ", "STOP.", "stop!!!", "¡Stop!", '"STOP"', "\tstop\n", "stop 🙏", "...STOP...", "(stop)"],
)
def test_keyword_is_case_insensitive_and_ignores_surrounding_whitespace_and_punctuation(body):
    assert match_keyword(body).kind == KeywordKind.OPT_OUT


@pytest.mark.parametrize("body", ["opt out", "Opt-Out", "OPT  OUT!", "opt_out", "opt. out"])
def test_opt_out_phrase_matches_in_any_spacing_or_punctuation(body):
    assert (match_keyword(body).kind, match_keyword(body).keyword) == (KeywordKind.OPT_OUT, "OPT OUT")


@pytest.mark.parametrize(
    ("body", "needs_review"),
    [
        ("stop it", True),
        ("please stop texting me", True),
        ("STOP STOP", True),
        ("wrong number", True),
        ("Remove me from this list", True),
        ("don't text me again", True),
        ("I'm not interested", True),
        ("stopping by later", False),
        ("See you this weekend", False),
        ("yes please", False),
        ("thanks!", False),
        ("", False),
    ],
)
def test_a_keyword_inside_a_sentence_is_not_a_keyword_but_opt_out_wording_is_flagged(body, needs_review):
    match = match_keyword(body)
    assert (match.kind, match.needs_review) == (KeywordKind.NONE, needs_review)


def test_list_keywords_add_to_the_standard_ones_as_words_or_phrases():
    extra = {"list_opt_out": ["Pause", "no more deals"], "list_opt_in": ["resume"]}
    assert match_keyword("pause.", **extra).kind == KeywordKind.OPT_OUT
    assert match_keyword("No more deals!", **extra).kind == KeywordKind.OPT_OUT
    assert match_keyword("RESUME", **extra).kind == KeywordKind.OPT_IN
    assert match_keyword("STOP", **extra).kind == KeywordKind.OPT_OUT
    assert match_keyword("pause", list_opt_out=[]).kind == KeywordKind.NONE


def test_opt_out_wins_when_a_list_keyword_is_both_opt_out_and_opt_in():
    assert match_keyword("YES", list_opt_out=["yes"]).kind == KeywordKind.OPT_OUT
    assert match_keyword("STOP", list_opt_in=["stop"]).kind == KeywordKind.OPT_OUT


def test_malformed_list_keywords_are_ignored():
    assert match_keyword("pause", list_opt_out="pause").kind == KeywordKind.NONE
    assert match_keyword("pause", list_opt_out=[None, "", 7, "pause"]).kind == KeywordKind.OPT_OUT
