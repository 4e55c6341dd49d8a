"""Interpretability probes: what the learned embeddings and attention maps hold, and their figures."""
