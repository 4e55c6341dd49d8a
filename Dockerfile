# The vidgen web app on CPU, as a Hugging Face Docker Space (or any container host) runs it.
#   docker build -t vidgen-app . && docker run --rm -p 7860:7860 vidgen-app
# The image serves the shipped models, release-2step the default (vidgen/shipped.py: DEFAULT_MODEL), from
# checkpoints/ in the build context; mount another directory as one of them with its variable, e.g.
#   docker run -p 7860:7860 -v /path/to/run:/ckpt:ro -e VIDGEN_2STEP_CHECKPOINT=/ckpt vidgen-app
# It carries only what the app needs (the COPY lines below; .dockerignore keeps the rest out of the context).
# The browser page's packages (web/: onnxruntime-web and gifenc, from the lock file); only the files it loads are
# copied into the image below.
FROM node:20-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund

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

# Dependencies first, so code changes do not reinstall them. torch first, from PyTorch's CPU index (PyPI's
# Linux wheel of the same version is the CUDA build, several GB); requirements.txt's pin then takes it as it is.
COPY --chown=user:user requirements.txt .
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
    && pip install -r requirements.txt

COPY --chown=user:user app.py .
COPY --chown=user:user vidgen vidgen
COPY --chown=user:user assets assets
COPY --chown=user:user checkpoints checkpoints
COPY --chown=user:user web web
COPY --from=web --chown=user:user /web/node_modules/onnxruntime-web/dist/ort.wasm.min.mjs /web/node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.mjs /web/node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm web/node_modules/onnxruntime-web/dist/
COPY --from=web --chown=user:user /web/node_modules/gifenc/dist/gifenc.esm.js web/node_modules/gifenc/dist/
USER user

EXPOSE 7860
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:7860/', timeout=4)" || exit 1
CMD ["python", "app.py", "--host", "0.0.0.0", "--port", "7860"]
