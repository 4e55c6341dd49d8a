"""Measuring what a model generates: metrics, the recognizer that reads videos back, the evaluation harness,
the experiments, the variant comparison's measurements and the cost model. Nothing here trains: the
recognizer's training and the comparison's runs are in vidgen.training."""
