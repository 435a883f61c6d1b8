"""The dependency rule: `inference` never imports `training`, and `import inference` stays light."""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_inference_never_imports_training():
    offenders = []
    for path in (ROOT / "inference").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.name}: {n}" for n in names if n == "training" or n.startswith("training.")]
    assert offenders == []


def test_import_inference_is_light():
    code = "import sys, inference; from inference import LABEL_IDS; print(sorted(m for m in ('torch','mlflow','fastapi','transformers') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_labels_match_the_guide():
    from inference.labels import LABEL_IDS

    guide = ROOT.parent / "shared" / "LABELS.md"
    assert LABEL_IDS == ("official_claim", "independent_confirmation", "unverified_assertion", "analyst_speculation")
    if guide.is_file():
        text = guide.read_text(encoding="utf-8")
        assert all(f"`{label}`" in text for label in LABEL_IDS)
