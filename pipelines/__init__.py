"""The training pipeline's DAG and its CLI (`python -m pipelines --help`)."""
