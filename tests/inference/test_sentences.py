"""split_sentences on news text: a table of cases, and exact offsets into the original string."""
from __future__ import annotations

import pytest

from inference.sentences import Sentence, split_sentences

CASES = [
    # abbreviations
    ("abbrev-us", "The U.S. Senate passed the bill on Tuesday. It now goes to the House.",
     ["The U.S. Senate passed the bill on Tuesday.", "It now goes to the House."]),
    ("abbrev-us-final", "The company moved its headquarters to the U.S. Its shares rose.",
     ["The company moved its headquarters to the U.S.", "Its shares rose."]),
    ("abbrev-gov", "Gov. Jane Smith said the plan would work. Critics disagreed.",
     ["Gov. Jane Smith said the plan would work.", "Critics disagreed."]),
    ("abbrev-dr", "Dr. Ahmed Lee examined the samples. Results are due Friday.",
     ["Dr. Ahmed Lee examined the samples.", "Results are due Friday."]),
    ("abbrev-jan", "The law takes effect Jan. 1, officials said. It was passed last year.",
     ["The law takes effect Jan. 1, officials said.", "It was passed last year."]),
    ("abbrev-no", "He lives at No. 10 Downing Street. He moved in last year.",
     ["He lives at No. 10 Downing Street.", "He moved in last year."]),
    ("abbrev-mr-pm", "Mr. and Mrs. Smith arrived at 5 p.m. on Friday. They left at 9 a.m. Saturday.",
     ["Mr. and Mrs. Smith arrived at 5 p.m. on Friday.", "They left at 9 a.m. Saturday."]),
    ("abbrev-inc", "The firm, Acme Inc., said profits fell. Its rival stayed silent.",
     ["The firm, Acme Inc., said profits fell.", "Its rival stayed silent."]),
    # initials
    ("initials-jrr", "J.R.R. Tolkien wrote the book. It sold well.", ["J.R.R. Tolkien wrote the book.", "It sold well."]),
    ("initials-middle", "George W. Bush spoke on Monday. He left early.",
     ["George W. Bush spoke on Monday.", "He left early."]),
    # decimals and figures
    ("figures-million-percent", "Revenue rose to $3.5 million last year. Profit fell 1.2% to 40 million.",
     ["Revenue rose to $3.5 million last year.", "Profit fell 1.2% to 40 million."]),
    ("figures-rates", "Inflation was 2.75 per cent in Q3. The bank held rates at 4.5%.",
     ["Inflation was 2.75 per cent in Q3.", "The bank held rates at 4.5%."]),
    ("figures-fig", "The vote was 52-48 (see Fig. 2). Critics objected.",
     ["The vote was 52-48 (see Fig. 2).", "Critics objected."]),
    # quotes
    ("quote-said", '"We will not back down," the minister said. "Never." The crowd cheered.',
     ['"We will not back down," the minister said.', '"Never."', "The crowd cheered."]),
    ("quote-closing-full-stop", '"The deal is done." That was his only comment.',
     ['"The deal is done."', "That was his only comment."]),
    ("quote-nested", "She said, \"He told me 'I will resign.'\" Then she left.",
     ["She said, \"He told me 'I will resign.'\"", "Then she left."]),
    ("quote-unicode", "\u201cWe are ready,\u201d she said \u2014 and left. \u2018Not yet,\u2019 he replied.",
     ["\u201cWe are ready,\u201d she said \u2014 and left.", "\u2018Not yet,\u2019 he replied."]),
    ("quote-unicode-closing", "\u201cIt is over.\u201d The talks ended.", ["\u201cIt is over.\u201d", "The talks ended."]),
    # ellipses
    ("ellipsis-dots", "He said the talks were going well... But nobody believed him.",
     ["He said the talks were going well...", "But nobody believed him."]),
    ("ellipsis-unicode", "He said the talks were going well\u2026 But nobody believed him.",
     ["He said the talks were going well\u2026", "But nobody believed him."]),
    ("ellipsis-inside", "The figures... were later revised. Shares rose.",
     ["The figures... were later revised.", "Shares rose."]),
    # parentheses
    ("paren-inside", "The agency (which declined to comment) said nothing. Officials were absent.",
     ["The agency (which declined to comment) said nothing.", "Officials were absent."]),
    ("paren-whole", "(The figures were later revised.) Shares rose on Monday.",
     ["(The figures were later revised.)", "Shares rose on Monday."]),
    # bullet and list lines
    ("list-bullets", "Key points:\n- Prices rose 3%\n- Jobs fell\n\u2022 Wages stalled",
     ["Key points:", "- Prices rose 3%", "- Jobs fell", "\u2022 Wages stalled"]),
    ("list-numbered", "1. Prices rose\n2. Jobs fell\n3. Wages stalled", ["1. Prices rose", "2. Jobs fell", "3. Wages stalled"]),
    # headlines without a full stop
    ("headline-blank-line", "Port strike talks stall as backlog grows\n\nROTTERDAM, March 4 (Wire) - Talks broke down "
     "on Tuesday. Ships wait offshore.",
     ["Port strike talks stall as backlog grows", "ROTTERDAM, March 4 (Wire) - Talks broke down on Tuesday.",
      "Ships wait offshore."]),
    ("headline-single-newline", "Port strike talks stall as backlog grows\nTalks broke down on Tuesday.",
     ["Port strike talks stall as backlog grows", "Talks broke down on Tuesday."]),
    # blank-line paragraphs, line per paragraph, hard wraps, CRLF
    ("paragraphs", "First paragraph without a full stop\n\nSecond paragraph. Third sentence.",
     ["First paragraph without a full stop", "Second paragraph.", "Third sentence."]),
    ("line-per-paragraph", "Talks broke down.\nThe union said nothing\nShips wait.",
     ["Talks broke down.", "The union said nothing", "Ships wait."]),
    ("hard-wrapped", "The minister said the\nplan would work. Critics\ndisagreed with her.",
     ["The minister said the\nplan would work.", "Critics\ndisagreed with her."]),
    ("hard-wrapped-title", "The bill was backed by Sen.\nKen Salazar on Monday.", ["The bill was backed by Sen.\nKen Salazar on Monday."]),
    ("crlf", "First line.\r\n\r\nSecond paragraph here.\r\nThird line.",
     ["First line.", "Second paragraph here.", "Third line."]),
    # dashes
    ("dash-en", "Prices rose \u2013 sharply \u2013 in May. Nobody was surprised.",
     ["Prices rose \u2013 sharply \u2013 in May.", "Nobody was surprised."]),
    # question and exclamation marks, surrounding whitespace
    ("question-exclamation", "Will it work? Nobody knows! We'll see.", ["Will it work?", "Nobody knows!", "We'll see."]),
    ("padded", "  \n Leading and trailing space.  \n\n", ["Leading and trailing space."]),
    ("empty", "", []),
    ("whitespace-only", " \n\t\r\n ", []),
]


def check_offsets(text: str, sentences: list[Sentence]) -> None:
    """Offsets are exact, ordered, non-overlapping, trimmed, and every non-space character is in a sentence."""
    covered = 0
    previous_end = 0
    for s in sentences:
        assert text[s.start:s.end] == s.text
        assert s.start >= previous_end and s.start < s.end
        assert s.text == s.text.strip()
        previous_end = s.end
        covered += sum(1 for c in s.text if not c.isspace())
    assert covered == sum(1 for c in text if not c.isspace())


@pytest.mark.parametrize("text,expected", [(t, e) for _, t, e in CASES], ids=[i for i, _, _ in CASES])
def test_split(text, expected):
    sentences = split_sentences(text)
    check_offsets(text, sentences)
    assert [s.text for s in sentences] == expected


def test_offsets_point_into_the_original_with_astral_and_combining_characters():
    text = "Caf\u00e9 \U0001F600 opened. The e\u0301lite \U0001D4B3 unit left. Done"
    sentences = split_sentences(text)
    check_offsets(text, sentences)
    assert [s.text for s in sentences] == ["Caf\u00e9 \U0001F600 opened.", "The e\u0301lite \U0001D4B3 unit left.", "Done"]


def test_lone_surrogate_from_json_does_not_break_splitting():
    text = "Bad byte \ud800 here. Next sentence."
    sentences = split_sentences(text)
    check_offsets(text, sentences)
    assert [s.text for s in sentences] == ["Bad byte \ud800 here.", "Next sentence."]


def test_long_unpunctuated_text_is_one_sentence():
    text = "word " * 20_000
    sentences = split_sentences(text)
    check_offsets(text, sentences)
    assert len(sentences) == 1 and sentences[0].end == len(text.rstrip())


def test_example_article_splits_into_headline_and_lines():
    from inference.paths import DATA_DIR

    text = (DATA_DIR / "examples" / "example_article.txt").read_text(encoding="utf-8")
    sentences = split_sentences(text)
    check_offsets(text, sentences)
    assert sentences[0].text == "Port strike talks stall as shipping backlog grows"
    assert sentences[1].text.startswith("ROTTERDAM, March 4 (Wire)")
    assert len(sentences) == len([line for line in text.splitlines() if line.strip()])
