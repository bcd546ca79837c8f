"""The experiment: which negatives train the better retriever, and at what cost."""

from synthneg.experiment.config import ALL_ARMS, ExperimentConfig, load_config
from synthneg.experiment.report import write_report
from synthneg.experiment.runner import ExperimentRunner, run_experiment

__all__ = ["ALL_ARMS", "ExperimentConfig", "ExperimentRunner", "load_config", "run_experiment", "write_report"]
