# syntax=docker/dockerfile:1.7
# RouteIQ sidecar: REST on :8080 and gRPC on :50051, the default MiniLM bundle baked in.
#
#   docker build -t routeiq-sidecar:0.1.0 \
#     --build-arg REVISION="$(git rev-parse HEAD)" --build-arg CREATED="$(date -u +%FT%TZ)" .
#   docker run --rm -p 8080:8080 -p 50051:50051 routeiq-sidecar:0.1.0
#
# The install and bundle steps live in scripts/docker-build-steps.sh, which CI also runs in a
# fresh virtualenv (tests/deploy/test_build_recipe.py). The runtime runs as uid 10001 and
# writes nothing outside /tmp, so it works with a read-only root filesystem.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: install the package into /opt/routeiq/venv, build the default bundle
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY routeiq_sidecar ./routeiq_sidecar
COPY client_stub ./client_stub
COPY scripts/docker-build-steps.sh ./scripts/
# pip's cache survives between builds in a BuildKit cache mount (not in the image).
RUN --mount=type=cache,target=/root/.cache/pip \
    bash scripts/docker-build-steps.sh /opt/routeiq

# --- runtime: the venv, the bundle and the LiteLLM stub; no compilers, no pip cache
FROM ${PYTHON_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="routeiq-sidecar" \
      org.opencontainers.image.description="Routing-decision sidecar for LLM gateways: ONNX MiniLM encoder + classifier heads on the CPU, REST and gRPC." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="RouteIQ" \
      org.opencontainers.image.source="https://github.com/routeiq/routeiq" \
      org.opencontainers.image.documentation="https://github.com/routeiq/routeiq#deploy"

RUN groupadd --system --gid 10001 routeiq \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin routeiq

COPY --from=build /opt/routeiq /opt/routeiq

# Listen on all interfaces (serve binds 127.0.0.1 unless told otherwise); the ports are only
# reachable where they are published. Set ROUTEIQ_AUTH_TOKEN to require a bearer token on
# /v1/* and gRPC (probes and /metrics stay open). ROUTEIQ_BUNDLE names the baked bundle, so
# a start only reads it. Two workers share the ports: set ROUTEIQ_WORKERS to the CPUs the
# container gets (onnxruntime threads = cores / workers).
ENV PATH=/opt/routeiq/venv/bin:$PATH \
    HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ROUTEIQ_HOME=/opt/routeiq/home \
    ROUTEIQ_BUNDLE=/opt/routeiq/bundle \
    ROUTEIQ_HTTP_HOST=0.0.0.0 \
    ROUTEIQ_HTTP_PORT=8080 \
    ROUTEIQ_GRPC_HOST=0.0.0.0 \
    ROUTEIQ_GRPC_PORT=50051 \
    ROUTEIQ_ALLOW_INSECURE_BIND=true \
    ROUTEIQ_WORKERS=2

USER 10001:10001
WORKDIR /tmp
EXPOSE 8080 50051

# Healthy = ready to route (/readyz: models loaded, not draining).
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('ROUTEIQ_HTTP_PORT', '8080'), timeout=2)"]

ENTRYPOINT ["routeiq-sidecar"]
CMD ["serve"]
