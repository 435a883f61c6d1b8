"""Move alias `champion` to the candidate only when it beats the champion on the same test split.

Run: sourcing promote
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from training import tracking
from training.splits import read_split, split_version


@dataclass
class Decision:
    promoted: bool
    reason: str
    candidate_f1: float
    champion_f1: float | None


def _predict(model_uri: str, test: list[dict]) -> list[str]:
    from inference.classifier import Classifier

    classifier = Classifier.load(model_uri)
    return [p.label for p in classifier.predict([r["text"] for r in test])]


def _macro_f1(records: list[dict], predicted: list[str]) -> float:
    from training.evaluate import classification_metrics

    return classification_metrics([r["label"] for r in records], predicted)["macro_f1"]


def promote(name: str, splits_dir: Path, experiment: str = "sourcing-classifier") -> Decision:
    """Evaluate candidate and champion on the current test split; move `champion` only on a strict gain."""
    tracking.setup(experiment)
    client = MlflowClient()
    try:
        candidate = client.get_model_version_by_alias(name, tracking.CANDIDATE)
    except MlflowException:
        raise tracking.TrackingError(f"no model version of {name!r} has alias 'candidate'; run `sourcing train` first") from None
    test = read_split(splits_dir / "test.jsonl")
    version = split_version(splits_dir)
    candidate_predicted = _predict(f"models:/{name}@{tracking.CANDIDATE}", test)
    candidate_f1 = _macro_f1(test, candidate_predicted)
    try:
        champion = client.get_model_version_by_alias(name, tracking.CHAMPION)
    except MlflowException:
        champion = None
    if champion is None:
        client.set_registered_model_alias(name, tracking.CHAMPION, candidate.version)
        return Decision(True, f"no champion yet; version {candidate.version} (test macro-F1 {candidate_f1:.4f} "
                              f"on data {version}) is now champion", candidate_f1, None)
    if champion.version == candidate.version:
        return Decision(False, f"version {candidate.version} is already champion", candidate_f1, candidate_f1)
    # A champion trained on an older build may have trained on sentences that are in today's test split:
    # both models are scored only on test sentences neither of them saw.
    seen = [tracking.seen_by_run(v.run_id) for v in (candidate, champion)]
    if any(s is None for s in seen):
        missing = [v.version for v, s in zip((candidate, champion), seen) if s is None]
        same_data = {client.get_run(v.run_id).data.tags.get("data_version") for v in (candidate, champion)} == {version}
        if not same_data:
            return Decision(False, f"cannot compare fairly: version(s) {missing} did not record which sentences they "
                                   f"trained on and were not trained on test split {version}; champion unchanged",
                            candidate_f1, None)
        keep = [True] * len(test)
    else:
        seen_by_either = seen[0] | seen[1]
        keep = [tracking.sentence_key(r["text"]) not in seen_by_either for r in test]
    unseen = [r for r, k in zip(test, keep) if k]
    candidate_f1 = _macro_f1(unseen, [p for p, k in zip(candidate_predicted, keep) if k])
    champion_f1 = _macro_f1(unseen, _predict(f"models:/{name}@{tracking.CHAMPION}", unseen))
    where = f"test split {version}" + (f" ({len(unseen)} of {len(test)} sentences, unseen by both)"
                                       if len(unseen) < len(test) else "")
    if candidate_f1 > champion_f1:
        client.set_registered_model_alias(name, tracking.CHAMPION, candidate.version)
        return Decision(True, f"candidate version {candidate.version} beats champion version {champion.version} on "
                              f"{where}: macro-F1 {candidate_f1:.4f} > {champion_f1:.4f}", candidate_f1, champion_f1)
    return Decision(False, f"candidate version {candidate.version} does not beat champion version {champion.version} on "
                           f"{where}: macro-F1 {candidate_f1:.4f} <= {champion_f1:.4f}; champion unchanged",
                    candidate_f1, champion_f1)
