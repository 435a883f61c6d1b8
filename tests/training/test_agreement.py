"""Agreement between first and blind second passes: exclusions by either pass are left out of kappa."""
import json

from training import agreement


def write(path, records):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_second_pass_exclusions_are_left_out(tmp_path, monkeypatch):
    write(tmp_path / "labels" / "corpus_x.jsonl", [
        {"ref": "a", "label": "official_claim"}, {"ref": "b", "label": "unverified_assertion"},
        {"ref": "c", "label": "analyst_speculation"}, {"ref": "d", "label": "unverified_assertion"}])
    write(tmp_path / "excluded" / "x.jsonl", [{"ref": "e", "reason": "fragment"}])
    write(tmp_path / "agreement" / "second_pass_x.jsonl", [
        {"ref": "a", "label": "official_claim"}, {"ref": "b", "label": "analyst_speculation"},
        {"ref": "c", "reason": "bare question"}, {"ref": "d", "label": "unverified_assertion"},
        {"ref": "e", "label": "unverified_assertion"}])
    monkeypatch.setattr(agreement, "DATA_DIR", tmp_path)
    monkeypatch.setattr(agreement, "AGREEMENT_DIR", tmp_path / "agreement")

    assert sorted(agreement.pairs()) == [("a", "official_claim", "official_claim"),
                                         ("b", "unverified_assertion", "analyst_speculation"),
                                         ("d", "unverified_assertion", "unverified_assertion")]
    assert "Sentences labelled by both passes: 3; raw agreement 0.667" in agreement.report()
