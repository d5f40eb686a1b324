# hashtag-serve on CPU. The checkpoint directory (docs/architecture.md Contract 3) is mounted, not baked in:
#   docker build -t hashtag-serve .
#   docker run -p 8000:8000 -v "$PWD/demo-output/run:/checkpoint:ro" hashtag-serve
# Not built by the tests (no Docker engine on the development machine).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HASHTAG_SERVE_CHECKPOINT=/checkpoint \
    HASHTAG_SERVE_HOST=0.0.0.0 \
    HASHTAG_SERVE_PORT=8000

WORKDIR /app
# CPU-only torch wheels first (the default index would pull the CUDA build, ~2 GB more).
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.14.1 torchvision==0.29.1

COPY setup.cfg pyproject.toml README.md ./
COPY runtime ./runtime
COPY configs ./configs
COPY crawler ./crawler
COPY demo_site ./demo_site
COPY preprocess ./preprocess
COPY train ./train
COPY serve ./serve
RUN pip install . && useradd --create-home --uid 10001 hashtag

USER hashtag
VOLUME ["/checkpoint"]
EXPOSE 8000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=3s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz')"
ENTRYPOINT ["hashtag-serve"]
