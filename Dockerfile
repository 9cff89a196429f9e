# syntax=docker/dockerfile:1.7
# One image for the four services of the settlement ledger and its back office. The command picks what runs:
#   python -m services.contracts | services.metering | services.invoicing | services.claims
#   python -m services.backoffice                (the operators' pages, over the four services' APIs)
#   python -m shared.migrate <service>          (the migration Job, before a rollout)
#
# Reproducible build (see docs/deploy.md, "Building the image"):
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg SOURCE_DATE_EPOCH="$(git log -1 --format=%ct)" \
#     --output type=image,name=ghcr.io/kz-ledger/settlement-ledger:0.1.0,rewrite-timestamp=true,push=true .
# Every Python package comes from deploy/k8s/image/*.lock with its sha256 (pip --require-hashes);
# CI resolves the base image tag below to a digest and passes it as PYTHON_IMAGE=python:...@sha256:...

ARG PYTHON_IMAGE=python:3.11.14-slim-trixie

# ---- build: wheels only, nothing compiled from source, nothing unpinned -------------------------
FROM ${PYTHON_IMAGE} AS build
ARG SOURCE_DATE_EPOCH=0
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH}
WORKDIR /src

# Dependencies first: this layer is reused until a lock file changes.
COPY deploy/k8s/image/build-requirements.lock deploy/k8s/image/requirements.lock /locks/
RUN python -m venv /opt/build \
 && /opt/build/bin/pip install --require-hashes --no-deps --only-binary=:all: -r /locks/build-requirements.lock \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-compile --require-hashes --no-deps --only-binary=:all: \
      -r /locks/requirements.lock

# The project itself, built with the pinned backend and installed without touching its dependencies.
COPY pyproject.toml README.m[d] ./
COPY shared ./shared
COPY services ./services
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
 && /opt/venv/bin/pip install --no-compile --no-deps --no-index /wheels/*.whl \
 && /opt/venv/bin/pip check \
 && /opt/venv/bin/pip uninstall --yes pip \
 && /opt/venv/bin/python -m compileall -q --invalidation-mode unchecked-hash /opt/venv/lib

# ---- runtime: the interpreter, the virtualenv, an unprivileged user; no pip, no compiler -------------
FROM ${PYTHON_IMAGE} AS runtime
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="kz-settlement-ledger" \
      org.opencontainers.image.description="Settlement ledger for electricity contracts: contracts, metering, invoicing, claims" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/kz-ledger/settlement-ledger"

RUN groupadd --system --gid 10001 ledger \
 && useradd --system --uid 10001 --gid ledger --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin ledger \
 && rm -rf /usr/local/lib/python3.11/site-packages/pip /usr/local/bin/pip*

COPY --from=build /opt/venv /opt/venv

# Read-only root file system in Kubernetes: no byte-code writes (it is precompiled above), logs to stdout.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONFAULTHANDLER=1 \
    TMPDIR=/tmp

WORKDIR /opt/ledger
USER 10001:10001
EXPOSE 8000

# No default service: the Deployment (or `docker run IMAGE python -m services.contracts`) names one.
CMD ["python", "-c", "raise SystemExit('choose what to run: python -m services.<contracts|metering|invoicing|claims|backoffice> or python -m shared.migrate <service>')"]
