"""Training: the trainer (DDPM loss, guidance dropout, EMA, exact resume) and the checkpoint files it writes."""
