"""Models-from-code entry for `mlflow.pyfunc.log_model(python_model=<this file>)`."""
import mlflow.models

from inference.pyfunc import SourcingModel

mlflow.models.set_model(SourcingModel())
