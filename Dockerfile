# Postgate container image.
#   docker build -t postgate .
#   docker run --env-file .env -v postgate-data:/data -p 3000:3000 postgate
# Socket Mode (SLACK_APP_TOKEN set) needs no inbound port except for the health check;
# HTTP mode serves Slack's request URL on $PORT (default 3000) at /slack/events.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=3000 \
    DATABASE_URL=sqlite:////data/postgate.db

RUN groupadd --system --gid 10001 postgate \
    && useradd --system --no-log-init --uid 10001 --gid postgate --home-dir /app --shell /usr/sbin/nologin postgate \
    && mkdir -p /data \
    && chown postgate:postgate /data

WORKDIR /app

# Dependency layer: only the project metadata and an empty package, so this layer is rebuilt only
# when pyproject.toml changes, not on every source or README edit.
COPY pyproject.toml ./
RUN mkdir bot \
    && touch bot/__init__.py \
    && pip install --no-cache-dir . \
    && rm -rf bot build ./*.egg-info

# Source layer: the real package, installed over the stub without touching the dependencies.
COPY README.md ./
COPY bot/ ./bot/
RUN pip install --no-cache-dir --no-deps --force-reinstall . \
    && rm -rf build ./*.egg-info

USER 10001:10001

VOLUME ["/data"]
EXPOSE 3000

# GET /healthz on $PORT (default 3000); python's urllib because the slim image has no curl. urlopen
# raises on connection errors and HTTP >= 400, which exits 1 (unhealthy).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + (os.environ.get('PORT') or '3000') + '/healthz', timeout=4)"]

CMD ["postgate", "run"]
