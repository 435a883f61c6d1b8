"""The fast path (ONNX Runtime, fused fp32 graph) gives the fp32 torch model's labels and probabilities; its tokenizer gives transformers' ids."""
from __future__ import annotations

import json

import numpy as np
import pytest

from inference.backends import ONNX_FILE, ONNX_INT8_FILE, Encoder
from inference.classifier import Classifier
from inference.labels import LABEL_IDS
from inference.paths import DATA_DIR

SENTENCES = [
    "Police said the suspect was arrested on Tuesday.",
    "",
    "Analysts expect rates to fall — perhaps sharply — by the spring, according to three economists.",
    "Ünïcödé quotes: «they confirmed it», the lab said.",
    " ".join(["The ministry repeated its claim"] * 40),  # far past max_length
]


def test_encoder_gives_the_ids_of_transformers_tokenizer(random_model_dir):
    from transformers import AutoTokenizer

    reference = AutoTokenizer.from_pretrained(random_model_dir)(
        SENTENCES, padding=True, truncation=True, max_length=64, return_tensors="np")
    encoder = Encoder(random_model_dir, 64)
    encodings = encoder.encode(SENTENCES)
    features = encoder.pad(encodings)
    for name in ("input_ids", "attention_mask", "token_type_ids"):
        np.testing.assert_array_equal(features[name], reference[name])
    assert [bool(e.overflowing) for e in encodings] == [False, False, False, False, True]


def test_batches_pad_to_their_longest_sentence_only(random_model_dir):
    features = Encoder(random_model_dir, 64)(["One.", "Two words here."])
    assert features["input_ids"].shape == (2, 6)  # [CLS] two words here . [SEP]
    assert features["attention_mask"].tolist() == [[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]]


def test_probabilities_keep_input_order_across_sorted_batches(random_model_dir):
    classifier = Classifier.load(random_model_dir, backend="torch")
    texts = [s for s in SENTENCES if s] * 3
    together = classifier.predict_proba(texts, batch_size=4)
    one_by_one = np.concatenate([classifier.predict_proba([t]) for t in texts])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)
    assert classifier.truncated == 3 + 3  # the long sentence, three times in each call


def _authored_texts() -> list[str]:
    return [json.loads(line)["text"] for line in (DATA_DIR / "labels" / "authored_starter.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def exported_tiny(tiny_model, tmp_path_factory):
    """A copy of the tiny model with both ONNX graphs, whatever the config's export_onnx default."""
    import shutil

    from training.export import export_onnx

    model_dir = tmp_path_factory.mktemp("exported") / "tiny"
    shutil.copytree(tiny_model.model_dir, model_dir, ignore=shutil.ignore_patterns("onnx"))
    export_onnx(model_dir)
    return model_dir


def _agreement(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a.argmax(axis=1) == b.argmax(axis=1)))


def _test_texts(tiny_splits) -> list[str]:
    return [json.loads(line)["text"] for line in (tiny_splits / "test.jsonl").read_text().splitlines() if line.strip()]


@pytest.mark.slow
def test_export_writes_both_graphs_and_load_picks_fp32(exported_tiny):
    assert (exported_tiny / ONNX_FILE).is_file() and (exported_tiny / ONNX_INT8_FILE).is_file()
    default = Classifier.load(exported_tiny).backend
    assert default.name == "onnx" and default.session._model_path.endswith(ONNX_FILE)
    assert Classifier.load(exported_tiny, backend="onnx-int8").backend.session._model_path.endswith(ONNX_INT8_FILE)
    assert Classifier.load(exported_tiny, backend="torch").backend.name == "torch"


@pytest.mark.slow
def test_default_fast_path_agrees_with_fp32_torch(exported_tiny, tiny_splits):
    """On the test split and on all 1,200 authored sentences: >= 99% same labels, probabilities within 0.05."""
    fast = Classifier.load(exported_tiny)
    reference = Classifier.load(exported_tiny, backend="torch")
    for texts in (_test_texts(tiny_splits), _authored_texts()):
        fast_p, reference_p = fast.predict_proba(texts), reference.predict_proba(texts)
        assert fast_p.shape == reference_p.shape == (len(texts), len(LABEL_IDS))
        assert _agreement(fast_p, reference_p) >= 0.99
        assert float(np.abs(fast_p - reference_p).max()) < 0.05


@pytest.mark.slow
def test_int8_graph_is_a_quantised_copy_of_the_model(exported_tiny):
    """Opt-in int8 (`backend="onnx-int8"`) must be the same model on average, not sentence by sentence."""
    texts = _authored_texts()
    int8 = Classifier.load(exported_tiny, backend="onnx-int8").predict_proba(texts)
    reference = Classifier.load(exported_tiny, backend="torch").predict_proba(texts)
    np.testing.assert_allclose(int8.sum(axis=1), 1.0, atol=1e-5)
    assert float(np.abs(int8 - reference).mean()) < 0.05
    assert _agreement(int8, reference) >= 0.9


@pytest.mark.slow
@pytest.mark.xfail(reason="known gap (issue 6): dynamic int8 changes about 2% of labels at any batch size, beyond "
                          "the 1% / 0.05 bound, which is why it is opt-in and not the default path",
                   strict=False)
def test_onnx_int8_agrees_with_fp32_torch(exported_tiny, tiny_splits):
    """The issue's bound applied to int8: >= 99% same labels, probabilities within 0.05."""
    fast = Classifier.load(exported_tiny, backend="onnx-int8")
    reference = Classifier.load(exported_tiny, backend="torch")
    for texts in (_test_texts(tiny_splits), _authored_texts()):
        fast_p, reference_p = fast.predict_proba(texts), reference.predict_proba(texts)
        agreement = _agreement(fast_p, reference_p)
        assert agreement >= 0.99, f"labels agree on {agreement:.1%} of {len(texts)} sentences"
        assert float(np.abs(fast_p - reference_p).max()) < 0.05
