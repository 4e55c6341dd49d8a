"""vidgen's web app: type a prompt, watch every denoising step, compare settings, explore the embeddings.

    python app.py                                   # http://127.0.0.1:7860: checkpoints/release-2step (the default), release, blog, ...
    python app.py --checkpoint RUN_DIR              # or VIDGEN_CHECKPOINT=RUN_DIR python app.py (the release)
    python app.py --blog-checkpoint RUN_DIR         # or VIDGEN_BLOG_CHECKPOINT=RUN_DIR (the second model)
    python app.py --fast-checkpoint RUN_DIR         # or VIDGEN_FAST_CHECKPOINT=RUN_DIR (the release's guidance-distilled student)
    python app.py --two-step-checkpoint RUN_DIR     # or VIDGEN_2STEP_CHECKPOINT=RUN_DIR (that student in 2 DDIM steps: the default)
    python app.py --scroll-checkpoint RUN_DIR       # or VIDGEN_SCROLL_CHECKPOINT=RUN_DIR (the scroll world's release)
    python app.py --scroll-blog-checkpoint RUN_DIR  # or VIDGEN_SCROLL_BLOG_CHECKPOINT=RUN_DIR (the scroll world's blog model)
    python app.py --long-checkpoint RUN_DIR         # or VIDGEN_LONG_CHECKPOINT=RUN_DIR (the long-video model: 16-128 frames)
    python app.py --latent-checkpoint RUN_DIR       # or VIDGEN_LATENT_CHECKPOINT=RUN_DIR (the latent release: a VAE's latent)
    python app.py --latent64-checkpoint RUN_DIR     # or VIDGEN_LATENT64_CHECKPOINT=RUN_DIR (the 64x64 world's latent release)
    python app.py --host 0.0.0.0 --port 7860        # what a Hugging Face Space or the Dockerfile runs

The page is built in vidgen/app/ (one module per tab or concern); this file only starts it.
"""
from vidgen.app.server import main

if __name__ == "__main__":
    main()
