"""freshlens: validate dbt freshness/state configs and predict build or reuse per model."""

__version__ = "0.1.0"
