"""Spark scoring: `mlflow.pyfunc.spark_udf` in local[2] gives the same labels as Classifier.predict."""
from __future__ import annotations

import json
import os
import sys

import pytest

from inference.labels import LABEL_IDS
from inference.paths import DATA_DIR

pytestmark = pytest.mark.slow
pyspark = pytest.importorskip("pyspark", reason="pip install -e '.[test]' brings pyspark")

MODEL_URI = "models:/sourcing-classifier@candidate"
RESULT_TYPE = "label string, confidence double, " + ", ".join(f"p_{label} double" for label in LABEL_IDS)


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    from pyspark.sql import SparkSession

    scratch = tmp_path_factory.mktemp("spark")
    os.environ["PYSPARK_PYTHON"] = os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    os.environ["SOURCING_THREADS"] = "1"  # two Spark workers on two cores: one torch thread each
    session = (SparkSession.builder.master("local[2]").appName("sourcing-spark-test")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.local.dir", str(scratch / "local"))
               .config("spark.sql.warehouse.dir", str(scratch / "warehouse"))
               .config("spark.driver.memory", "1g")
               .getOrCreate())
    yield session
    session.stop()
    os.environ.pop("SOURCING_THREADS", None)


def test_spark_udf_labels_equal_classifier_predict(tiny_model, mlflow_store, spark):
    """Each Spark partition reaches the pyfunc as one pandas batch; Classifier.predict on the same batch must agree.

    The reference is computed per partition because the int8 ONNX engine's outputs depend on which sentences
    share a batch (dynamic activation quantisation), so near-tied labels can differ from a whole-list predict.
    """
    import mlflow
    import pandas as pd
    from pyspark.sql.functions import spark_partition_id

    from inference.classifier import Classifier

    lines = (DATA_DIR / "labels" / "authored_starter.jsonl").read_text(encoding="utf-8").splitlines()
    sentences = [json.loads(line)["text"] for line in lines if line.strip()][:240]
    udf = mlflow.pyfunc.spark_udf(spark, MODEL_URI, result_type=RESULT_TYPE, env_manager="local")
    frame = spark.createDataFrame(pd.DataFrame({"id": range(len(sentences)), "text": sentences})).repartition(2)
    scored = (frame.withColumn("prediction", udf("text")).withColumn("partition", spark_partition_id())
              .select("id", "partition", "text", "prediction.label", "prediction.confidence")
              .toPandas())
    assert sorted(scored["id"]) == list(range(len(sentences))) and len(sentences) >= 200
    assert scored["partition"].nunique() == 2
    classifier = Classifier.load(tiny_model.model_dir)
    for _, part in scored.groupby("partition", sort=True):
        expected = classifier.predict(part["text"].tolist())
        assert part["label"].tolist() == [p.label for p in expected]
        assert part["confidence"].tolist() == pytest.approx([p.confidence for p in expected], abs=2e-6)
    assert scored["label"].nunique() > 1
