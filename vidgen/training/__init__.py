"""Training: the trainer (DDPM loss, guidance dropout, EMA, exact resume) and the checkpoint files it writes,
the recognizer's training, and the variant comparison's runs."""
