"""The cue lexicon: phrases that mark who stands behind a claim and how far it was checked, with their kind.

`find_cues(text)` returns candidate spans (end-exclusive character offsets); `inference.explain` ranks them
with the model. Kinds: attribution (a source and its speech verb), verification (an independent check),
hedge (hedging, speculation or an unverified marker), anonymity (an unnamed or inaccessible source).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

CUE_KINDS: tuple[str, ...] = ("attribution", "verification", "hedge", "anonymity")
CUE_KIND_DESCRIPTIONS: dict[str, str] = {
    "attribution": "a source and its speech verb",
    "verification": "an independent check",
    "hedge": "hedging, speculation or an unverified marker",
    "anonymity": "an unnamed or inaccessible source",
}

_SPEECH = (r"said|says|say|saying|told|tells|stated|states|announced|announces|added|adds|claimed|claims|"
           r"insisted|insists|noted|notes|reported|reports|wrote|writes|tweeted|posted|explained|acknowledged|"
           r"denied|denies|declared|declares|confirmed|confirms|maintained|maintains|alleged|alleges|accused|"
           r"accuses|estimated|estimates|disclosed|revealed|warned|urged|pledged|vowed|promised|"
           r"unveiled|proposed|introduced|testified|argued|argues|responded|replied|quoted|cited")
# Alone, without a source beside them; leaves out forms that are mostly nouns ("claims", "reports", "notes").
_SPEECH_BARE = (r"said|says|told|stated|announced|added|claimed|insisted|noted|reported|wrote|tweeted|posted|"
                r"explained|acknowledged|denied|denies|declared|confirmed|confirms|maintained|alleged|accused|"
                r"disclosed|revealed|testified|quoted|according")
_OFFICIAL = (r"ministry|ministries|minister|government|governor|president|police|army|military|forces|command|"
             r"spokes(?:man|woman|person|people)|press service|press office|office|department|agency|authorities|"
             r"authority|officials?|company|firm|council|committee|commission|prosecutors?|court|senator|sen\.|"
             r"congressman|congresswoman|mayor|chairman|chairwoman|chief|director|ceo|secretary|embassy|"
             r"party|campaign|union|board|administration|kremlin|pentagon|white house|statement|filing")
_HEDGE_WORDS = (r"reportedly|allegedly|purportedly|apparently|supposedly|may|might|could|likely|unlikely|probably|"
                r"possibly|perhaps|presumably|potentially|seemingly|unverified|unconfirmed|unclear|uncertain|"
                r"rumou?red|speculated|speculation|predicts?|predicted|forecasts?|expects?|expected|suggests?|"
                r"suggested|believes?|believed|appears? to|appeared to|seems? to|seemed to|would|signal(?:s|ed)?|"
                r"hopes?|fears?|feared|speculate[sd]?")
_ANALYSTS = (r"analysts?|experts?|observers?|commentators?|economists?|critics?|scholars?|researchers? believe|"
             r"strategists?|pundits?|some|many|others")
_THINK = r"say|said|says|suggest|suggests|suggested|believe|believes|warn|warns|warned|expect|expects|expected|think|" \
         r"thinks|thought|predict|predicts|predicted|argue|argues|argued|fear|fears|speculate|speculated|note|noted"

# (kind, pattern); the first pattern to find a span names its kind; a longer match wins over one it contains.
_PATTERNS: tuple[tuple[str, str], ...] = (
    # hedge: an unverified marker, checked before the verification words it contains
    ("hedge", r"(?:could|can|cannot|can't|could not|has not been|have not been|had not been|was not|were not|"
              r"is not|are not|not)\s+(?:be\s+)?(?:independently\s+)?(?:verif(?:y|ied)|confirm(?:ed)?|corroborat(?:e|ed))"),
    ("hedge", r"could\s+not\s+(?:be\s+)?(?:independently\s+)?(?:verif(?:y|ied)|confirm(?:ed)?)"),
    ("hedge", r"(?:it\s+(?:is|was|remains|remained)\s+)?(?:unclear|not clear|uncertain)\s+(?:whether|if|how|why|what|when|who)"),
    ("hedge", r"declined\s+to\s+comment|did\s+not\s+(?:immediately\s+)?(?:respond|return|reply)|no\s+comment"),
    ("hedge", r"if\s+confirmed|is\s+assessing\s+whether|without\s+(?:providing\s+)?evidence|offered\s+no\s+evidence"),
    ("hedge", rf"(?:{_ANALYSTS})\s+(?:{_THINK})"),
    ("hedge", rf"according\s+to\s+(?:some\s+|several\s+|many\s+)?(?:{_ANALYSTS})"),
    ("hedge", rf"\b(?:{_HEDGE_WORDS})\b"),
    ("hedge", r"is\s+(?:likely|expected|set|poised|due)\s+to|are\s+(?:likely|expected)\s+to|in\s+theory|in\s+my\s+view|"
              r"(?:i|we)\s+(?:think|believe)"),
    # verification
    ("verification", r"independently\s+(?:verified|confirmed|corroborated|checked)|(?:verified|authenticated|geolocated|"
                     r"corroborated|fact-checked|cross-checked)"),
    ("verification", r"satellite\s+(?:images?|imagery|photos?|pictures?)(?:\s+\w+){0,5}?\s+(?:show|shows|showed|"
                     r"reveal|revealed|confirm|confirmed|indicate|indicated)|satellite\s+(?:images?|imagery|photos?)"),
    ("verification", r"(?:court|judge|jury|tribunal|panel)\s+(?:ruled|found|convicted|acquitted|ordered|upheld|sentenced)|"
                     r"found\s+guilty|pleaded\s+guilty|convicted|verdict|ruling"),
    ("verification", r"(?:investigation|inquiry|probe|audit|review|study|analysis|report|test|tests|autopsy|"
                     r"inspection|survey)\s+(?:\w+\s+){0,3}?(?:found|showed|shows|concluded|confirmed|revealed|"
                     r"determined|established)"),
    ("verification", r"(?:inspectors?|auditors?|investigators?|monitors?|observers?|fact-checkers?|researchers?|"
                     r"scientists?|forensic\s+experts?)\s+(?:\w+\s+){0,3}?(?:found|confirmed|documented|verified|"
                     r"observed|determined|measured|recorded|traced|identified|established|concluded)"),
    ("verification", r"(?:records|data|statistics|figures)\s+(?:from\s+(?:the\s+)?\w+(?:\s+\w+)?\s+)?"
                     r"(?:show|shows|showed|indicate)"),
    ("verification", r"\b(?:matched|traced|documented|geolocation|forensic|autopsy|peer-reviewed|lab(?:oratory)?\s+tests?|"
                     r"reviewed\s+by|analy[sz]ed\s+by|examined\s+by|obtained\s+and\s+verified)\b"),
    # anonymity
    ("anonymity", r"(?:on\s+(?:the\s+)?condition\s+of\s+anonymity|speaking\s+anonymously|(?:was|were)\s+not\s+"
                  r"authori[sz]ed\s+to\s+(?:speak|discuss|comment)|declined\s+to\s+be\s+(?:named|identified)|"
                  r"asked\s+not\s+to\s+be\s+(?:named|identified))"),
    ("anonymity", r"(?:(?:sources?|people|persons?|a\s+person|someone|officials?|insiders?)\s+)(?:familiar\s+with|close\s+to|"
                  r"briefed\s+on|with\s+knowledge\s+of)(?:\s+the\s+(?:matter|situation|talks|investigation|plans?|deal|case))?"),
    ("anonymity", r"(?:(?:a|one|two|three|four|several|some)\s+)?(?:senior\s+|unnamed\s+|anonymous\s+|military\s+|"
                  r"government\s+|intelligence\s+|police\s+|security\s+|diplomatic\s+|western\s+|u\.s\.\s+)*"
                  r"sources?(?:\s+(?:within|inside|in|at|close\s+to)\s+(?:the\s+)?\w+)?"),
    ("anonymity", r"(?:a|one|two|three|four|several)\s+(?:senior\s+|unnamed\s+|anonymous\s+|western\s+|u\.s\.\s+|"
                  r"government\s+|military\s+|police\s+|intelligence\s+)*(?:officials?|diplomats?|insiders?|"
                  r"officers?|executives?|employees?)\s+(?:said|say|says|told)"),
    ("anonymity", r"\b(?:unnamed|anonymous|anonymously|insiders?|leaked|obtained\s+by|seen\s+by|a\s+copy\s+of)\b"),
    # attribution
    ("attribution", r"according\s+to(?:\s+[\w.'’-]+){1,4}"),  # stops at the first comma
    ("attribution", rf"(?:the\s+)?(?:[\w.'’-]+\s+){{0,2}}(?:{_OFFICIAL})(?:'s?|’s?)?\s+(?:\w+\s+)?(?:{_SPEECH})\b"),
    ("attribution", rf"(?:{_SPEECH})\s+(?:the\s+|a\s+)?(?:[\w.'’-]+\s+){{0,2}}(?:{_OFFICIAL})\b"),
    ("attribution", r"in\s+a\s+(?:written\s+|joint\s+|brief\s+)?(?:statement|filing|press\s+release|news\s+release|"
                    r"letter|post|tweet|interview|briefing|news\s+conference|press\s+conference)|"
                    r"told\s+(?:reporters|journalists|parliament|congress|the\s+\w+)|press\s+(?:service|office|release)|"
                    r"spokes(?:man|woman|person)"),
    ("attribution", rf"\b(?:{_SPEECH_BARE})\b"),
)
_COMPILED = tuple((kind, re.compile(pattern, re.IGNORECASE)) for kind, pattern in _PATTERNS)


@dataclass(frozen=True)
class Cue:
    """A cue span: `text[start:end]` (end-exclusive) and its kind."""

    start: int
    end: int
    kind: str


def find_cues(text: str) -> list[Cue]:
    """Candidate cue spans in `text`, in order of position; a span inside a longer one is dropped."""
    found: dict[tuple[int, int], str] = {}
    for kind, pattern in _COMPILED:
        for match in pattern.finditer(text):
            start, end = match.span()
            # Trim spaces and trailing punctuation the patterns may swallow.
            while start < end and not text[start].isalnum():
                start += 1
            while end > start and not text[end - 1].isalnum():
                end -= 1
            if end - start >= 2 and (start, end) not in found:
                found[(start, end)] = kind
    # A span inside a longer one is dropped whatever its kind: the longer match is the more specific cue
    # ("said" inside "two officials said", "independently verified" inside "could not be independently verified").
    return [Cue(start, end, kind) for (start, end), kind in sorted(found.items())
            if not any(s <= start and end <= e and (s, e) != (start, end) for s, e in found)]
