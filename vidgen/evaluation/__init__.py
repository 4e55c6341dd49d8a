"""Measuring what a model generates: metrics, the recognizer that reads videos back, the evaluation harness,
the experiments, the variant comparison and the cost model."""
