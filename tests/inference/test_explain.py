"""Evidence spans: valid offsets into the sentence, pointing at the cue that drove the label."""
from __future__ import annotations

import numpy as np
import pytest

from inference.classifier import to_prediction
from inference.cues import CUE_KINDS, find_cues
from inference.explain import explain, occlude
from inference.labels import LABEL_TO_ID

# Which words move a label in the stand-in model (a cue-reading classifier in miniature).
WORD_WEIGHTS = {"said": ("official_claim", 3.0), "verified": ("independent_confirmation", 3.0),
                "satellite": ("independent_confirmation", 2.0), "reportedly": ("unverified_assertion", 3.0),
                "sources": ("unverified_assertion", 3.5), "may": ("analyst_speculation", 3.0),
                "analysts": ("analyst_speculation", 2.0)}


class CueWordClassifier:
    """Logits from cue words present in the text; no weights, deterministic."""

    version = "cue-words"

    def predict_proba(self, texts, batch_size=32):
        rows = []
        for text in texts:
            logits = np.zeros(4)
            logits[LABEL_TO_ID["unverified_assertion"]] = 0.5
            words = text.lower().replace(",", " ").replace(".", " ").split()
            for word, (label, weight) in WORD_WEIGHTS.items():
                if word in words:
                    logits[LABEL_TO_ID[label]] += weight
            rows.append(np.exp(logits) / np.exp(logits).sum())
        return np.array(rows)

    def predict(self, texts, batch_size=32):
        return [to_prediction(row) for row in self.predict_proba(texts, batch_size)]


CASES = [
    ("The ministry said the bridge was hit overnight.", "said", "attribution"),
    ("Reuters verified the video by matching the road layout.", "verified", "verification"),
    ("HIMARS launchers were reportedly destroyed near the front.", "reportedly", "hedge"),
    ("Analysts suggest the strikes may have been meant to disrupt supply lines.", "may", "hedge"),
    ("Sources familiar with the matter said the bid would be withdrawn.", "Sources", "anonymity"),
]


@pytest.mark.parametrize("text, cue, kind", CASES)
def test_top_span_points_at_the_cue(text, cue, kind):
    spans = explain(CueWordClassifier(), [text])[0]
    top = spans[0]
    assert text[top.start:top.end] == top.text
    cue_start = text.index(cue)
    assert top.start <= cue_start and cue_start + len(cue) <= top.end
    assert top.kind == kind
    assert top.score > 0


def test_spans_have_valid_offsets_and_do_not_overlap():
    texts = [t for t, _, _ in CASES] + ["According to the press service, the operation was conducted by air defence.",
                                        "The claims could not be independently verified, officials said."]
    for text, spans in zip(texts, explain(CueWordClassifier(), texts, top_k=5)):
        assert spans
        for s in spans:
            assert 0 <= s.start < s.end <= len(text) and text[s.start:s.end] == s.text
            assert s.kind in CUE_KINDS
        ordered = sorted(spans, key=lambda s: s.start)
        assert all(a.end <= b.start for a, b in zip(ordered, ordered[1:]))
        assert [s.score for s in spans] == sorted((s.score for s in spans), reverse=True)


def test_unsourced_narration_gets_no_span_unless_fallback_always():
    text = "Eight drones were intercepted over Rostov Oblast."
    assert explain(CueWordClassifier(), [text]) == [[]]  # predicted unverified_assertion: nothing to underline
    fallback = explain(CueWordClassifier(), [text], fallback="always")[0]
    assert fallback and all(s.kind == "other" and text[s.start:s.end] == s.text for s in fallback)
    with pytest.raises(ValueError):
        explain(CueWordClassifier(), [text], fallback="sometimes")


def test_a_cue_missing_from_the_lexicon_is_found_by_word_occlusion():
    text = "The satellite passed over the valley at noon."
    assert find_cues(text) == []
    top = explain(CueWordClassifier(), [text])[0][0]  # predicted independent_confirmation
    assert (top.text, top.kind, text[top.start:top.end]) == ("satellite", "other", "satellite")
    assert explain(CueWordClassifier(), [text], fallback="never") == [[]]


def test_explain_reuses_given_predictions_and_keeps_input_order():
    clf = CueWordClassifier()
    texts = [t for t, _, _ in CASES]
    assert explain(clf, texts, predictions=clf.predict(texts)) == explain(clf, texts)
    assert [spans[0].text for spans in explain(clf, texts[::-1])] == [spans[0].text for spans in explain(clf, texts)][::-1]


def test_occlude_removes_the_span_and_closes_the_gap():
    text = "The ministry said the bridge was hit."
    assert occlude(text, text.index("said"), text.index("said") + 4) == "The ministry the bridge was hit."
    assert occlude(text, 0, 3) == "ministry said the bridge was hit."


@pytest.mark.parametrize("text, cue, kind", [
    ("According to the press service, the operation was conducted by air defence systems.",
     "According to the press service", "attribution"),
    ("The claims could not be independently verified.", "could not be independently verified", "hedge"),
    ("Satellite images reviewed by independent analysts show the hangar destroyed.",
     "Satellite images reviewed by independent analysts show", "verification"),
    ("Two officials, speaking on condition of anonymity, said talks had stalled.", "on condition of anonymity",
     "anonymity"),
    ("People familiar with the matter said the bid would be withdrawn.", "People familiar with the matter", "anonymity"),
    ("The IAEA's inspectors confirmed that the reactor had been shut down.", "inspectors confirmed", "verification"),
])
def test_lexicon_finds_the_whole_cue_with_its_kind(text, cue, kind):
    start = text.index(cue)
    assert (start, start + len(cue), kind) in {(c.start, c.end, c.kind) for c in find_cues(text)}


@pytest.mark.slow
def test_trained_model_explanations_have_valid_offsets(tiny_model):
    from inference.classifier import Classifier

    clf = Classifier.load(tiny_model.model_dir)
    texts = [t for t, _, _ in CASES]
    for text, spans in zip(texts, clf.explain(texts)):
        assert spans and all(text[s.start:s.end] == s.text and s.kind in CUE_KINDS for s in spans)
        assert all(any(c.start == s.start and c.end == s.end for c in find_cues(text)) for s in spans)


def test_score_stream_explain_adds_cues_only_when_asked(tmp_path):
    import json

    from inference.articles import Article
    from inference.scoring import score_stream

    text = "The ministry said the bridge was hit. HIMARS launchers were reportedly destroyed."
    for explain_flag in (False, True):
        out = tmp_path / f"scored-{explain_flag}.jsonl"
        score_stream(CueWordClassifier(), [Article("a1", text)], out, explain=explain_flag, progress=False)
        records = [json.loads(line) for line in out.read_text().splitlines()]
        assert len(records) == 2
        if not explain_flag:
            assert all("cues" not in r for r in records)
            continue
        for record in records:
            top = record["cues"][0]
            assert record["text"][top["start"]:top["end"]] == top["text"]
            assert text[record["start"] + top["start"]:record["start"] + top["end"]] == top["text"]
        assert [r["cues"][0]["kind"] for r in records] == ["attribution", "hedge"]


@pytest.mark.slow
def test_score_command_explain_with_a_trained_model(tiny_model, tmp_path, capsys):
    import json

    from training.cli import main

    article = tmp_path / "article.txt"
    article.write_text("The ministry said the bridge was hit. Analysts suggest more strikes may follow.")
    assert main(["score", str(article), "--model", str(tiny_model.model_dir), "--explain"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(records) == 2
    for record in records:
        assert record["cues"]
        for cue in record["cues"]:
            assert record["text"][cue["start"]:cue["end"]] == cue["text"] and cue["kind"] in CUE_KINDS
