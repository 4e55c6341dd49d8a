"""Latent video: autoencoders that compress a video before diffusion (seeds 003 and 004's VideoVAE).

`config` holds the autoencoder's shape (VAEConfig), `causal_conv` the convolutions that never look at a later
frame, `vae` the encoder and decoder, `loss` what training minimises.
"""
