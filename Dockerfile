# The vidgen web app on CPU, as a Hugging Face Docker Space (or any container host) runs it.
#   docker build -t vidgen-app . && docker run --rm -p 7860:7860 vidgen-app
# The image serves checkpoints/release, blog, release-fast, release-2step, scroll-release and scroll-blog from the build context; mount another with
#   docker run -p 7860:7860 -v /path/to/run:/ckpt:ro -e VIDGEN_CHECKPOINT=/ckpt vidgen-app
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GRADIO_ANALYTICS_ENABLED=False \
    GRADIO_SERVER_NAME=0.0.0.0 \
    GRADIO_SERVER_PORT=7860

# A C++ compiler lets the app compile its default model in the background (vidgen.compiled: torch.compile's
# inductor writes C++); without one the app samples eagerly and logs why.
RUN apt-get update && apt-get install -y --no-install-recommends g++ && rm -rf /var/lib/apt/lists/*

# Spaces run the container as user 1000; make it own its home and the app folder.
RUN useradd --create-home --uid 1000 user
ENV HOME=/home/user \
    PATH=/home/user/.local/bin:$PATH
WORKDIR /home/user/app

# Dependencies first, so code changes do not reinstall them. The extra index gives pip torch's
# "+cpu" wheel for the pinned version (it sorts above PyPI's CUDA build), keeping the image CPU-only.
COPY --chown=user:user requirements.txt .
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.txt

COPY --chown=user:user . .
USER user

EXPOSE 7860
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:7860/', timeout=4)" || exit 1
CMD ["python", "app.py", "--host", "0.0.0.0", "--port", "7860"]
