"""The diffusion process apart from any network: the noise schedule and the samplers (DDPM, DDIM, DPM-Solver++,
UniPC), one registry of them in sampler.py."""
