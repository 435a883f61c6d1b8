"""The local sqlite store: runs started at the same moment on a new store must not trip over each other."""
import os
import subprocess
import sys
from pathlib import Path

import mlflow

SETUP = "from training import tracking; print(tracking.setup('parallel-experiment'))"


def test_runs_started_together_on_a_new_sqlite_store_all_get_the_experiment(tmp_path: Path):
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    processes = [subprocess.Popen([sys.executable, "-c", SETUP], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [(p.wait(timeout=300), p.stdout.read(), p.stderr.read()) for p in processes]
    for code, out, err in results:
        assert code == 0, err[-2000:]
        assert out.strip() == uri
    experiments = mlflow.MlflowClient(uri).search_experiments(filter_string="name = 'parallel-experiment'")
    assert len(experiments) == 1
