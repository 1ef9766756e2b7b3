"""The model registry: training runs and model versions in MLflow, with the aliases the scorer
serves (`champion`, `challenger`) and one command each to promote and to roll back."""
