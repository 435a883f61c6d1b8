"""The model card names the data a model was trained on, silver included when a run used it."""
from training import model_card
from training.config import TrainConfig

INFO = {"version": "abc.123", "run_id": "123", "data_version": "abc", "n_train": 100, "n_feedback": 2,
        "temperature": 1.2, "n_silver": 0}


def test_card_without_silver_says_nothing_about_it():
    card = model_card.render(TrainConfig(export_onnx=False), INFO, {"test_macro_f1": 0.8})
    assert "Trained sentences: 100 (of which reviewer feedback: 2)" in card
    assert "Silver" not in card
    assert "Macro-F1 0.800 overall" in card


def test_card_with_silver_names_pool_threshold_and_version():
    cfg = TrainConfig(export_onnx=False, silver_per_epoch=2000, silver_min_confidence=0.8)
    card = model_card.render(cfg, {**INFO, "n_silver": 5400, "silver_version": "5bf1e806"}, {})
    assert ("Silver (model-labelled, training only): 2000 sentences per epoch drawn from 5400 at confidence "
            ">= 0.8 (silver version `5bf1e806`)") in card


def test_card_says_which_layers_stayed_frozen_only_when_some_did():
    assert "Frozen in training" not in model_card.render(TrainConfig(export_onnx=False), INFO, {})
    card = model_card.render(TrainConfig(export_onnx=False, frozen_layers=3), INFO, {})
    assert "the embeddings and the bottom 3 encoder layers are the base model's unchanged" in card


def test_card_names_soft_targets_only_when_a_run_used_them():
    assert "Soft targets" not in model_card.render(TrainConfig(export_onnx=False), INFO, {})
    card = model_card.render(TrainConfig(export_onnx=False, runner_up_weight=0.2), INFO, {})
    assert "Soft targets for hard cases (sentences whose annotator named a runner-up label): 0.8 the label, " \
           "0.2 the runner-up" in card


def test_card_scores_hard_cases_apart_when_the_test_split_has_them():
    assert "hard cases" not in model_card.render(TrainConfig(export_onnx=False), INFO, {"test_macro_f1": 0.8})
    metrics = {"test_macro_f1": 0.8, "test_hard_macro_f1": 0.61, "test_hard_n": 755.0, "test_clear_macro_f1": 0.87}
    card = model_card.render(TrainConfig(export_onnx=False), INFO, metrics)
    assert ("0.610 on hard cases (the annotator named a runner-up label: 755 sentences) and 0.870 on the rest. "
            "TF-IDF baseline") in card
