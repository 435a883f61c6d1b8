"""MLflow pyfunc adapter: a DataFrame with a `text` column (or a list of strings) in, labels and probabilities out."""
from __future__ import annotations

import mlflow.pyfunc
import pandas as pd

from inference.labels import LABEL_IDS

OUTPUT_COLUMNS = ["label", "confidence"] + [f"p_{label}" for label in LABEL_IDS]


def to_texts(model_input) -> list[str]:
    """Accept a DataFrame (`text` column, or a single column), a Series, a list of strings, or a dict."""
    if isinstance(model_input, pd.DataFrame):
        column = "text" if "text" in model_input.columns else model_input.columns[0]
        return _flatten(model_input[column].tolist())
    if isinstance(model_input, pd.Series):
        return _flatten(model_input.tolist())
    if isinstance(model_input, dict):
        return to_texts(pd.DataFrame(model_input))
    return _flatten(model_input)


def _flatten(values) -> list[str]:
    # MLflow's schema enforcement turns a dict of columns ({"text": [...]}) into one row holding the list.
    texts = []
    for value in values:
        if isinstance(value, (list, tuple)):
            texts.extend(str(t) for t in value)
        else:
            texts.append(str(value))
    return texts


class SourcingModel(mlflow.pyfunc.PythonModel):
    """Loads the Classifier from the logged model directory and delegates to it."""

    def load_context(self, context) -> None:
        from inference.classifier import Classifier

        self.classifier = Classifier.load(context.artifacts["model_dir"])

    def predict(self, context, model_input, params=None) -> pd.DataFrame:
        probabilities = self.classifier.predict_proba(to_texts(model_input))
        frame = pd.DataFrame(probabilities, columns=[f"p_{label}" for label in LABEL_IDS]).astype("float64")
        best = probabilities.argmax(axis=1) if len(probabilities) else []
        frame.insert(0, "label", [LABEL_IDS[i] for i in best])
        frame.insert(1, "confidence", probabilities.max(axis=1).astype("float64") if len(probabilities) else [])
        return frame[OUTPUT_COLUMNS]
