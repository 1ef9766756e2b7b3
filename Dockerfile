# loan-scorer image: `loan-scorer run` by default; `docker run IMAGE produce|tail|train ...` for
# the other subcommands. Build:  docker build -t loan-scorer .
#
# Stage 1 (builder) installs Poetry with pip, installs the locked runtime dependencies and the
# project into an in-project venv (/app/.venv) and trains the default model deterministically
# into /app/model. Stage 2 (runtime) copies only the venv, the packages and the model onto the same
# slim base: no Poetry, no pip cache, no build tools.
#
# No `# syntax=` line: BuildKit would pull that frontend from Docker Hub; the built-in one handles
# `RUN --mount`. Behind a TLS-intercepting proxy, pass its CA bundle as the build secret
# `ca-bundle` (`--secret id=ca-bundle,src=/etc/ssl/certs/ca-certificates.crt`, what
# scripts/build-image.sh does): pip and Poetry trust it while downloading, and it is never written
# to a layer. Without a registry, scripts/build-image.sh builds on an offline base (PYTHON_IMAGE).

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder

ARG POETRY_VERSION=2.5.1
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    POETRY_NO_INTERACTION=1 \
    POETRY_VIRTUALENVS_CREATE=true \
    POETRY_VIRTUALENVS_IN_PROJECT=true \
    POETRY_CACHE_DIR=/tmp/poetry-cache \
    MPLBACKEND=Agg \
    MPLCONFIGDIR=/tmp/matplotlib \
    PYTHONHASHSEED=0

RUN --mount=type=secret,id=ca-bundle \
    if [ -s /run/secrets/ca-bundle ]; then export PIP_CERT=/run/secrets/ca-bundle; fi \
    && pip install "poetry==${POETRY_VERSION}"

WORKDIR /app

# Dependencies first, so a code change does not reinstall them (layer cache). Pinned by the lock
# file: `poetry check --lock` fails the build if poetry.lock does not match pyproject.toml (no
# silent re-resolution), and `poetry install` installs exactly the locked versions, verifying each
# file against the lock's SHA-256 hashes. CI audits the same lock file with pip-audit.
COPY pyproject.toml poetry.lock README.md ./
RUN --mount=type=cache,target=/tmp/poetry-cache --mount=type=secret,id=ca-bundle \
    if [ -s /run/secrets/ca-bundle ]; then \
      export REQUESTS_CA_BUNDLE=/run/secrets/ca-bundle SSL_CERT_FILE=/run/secrets/ca-bundle \
             PIP_CERT=/run/secrets/ca-bundle; \
    fi \
    && poetry check --lock \
    && poetry install --only main --no-root

# Then the project itself (installed into the venv as a path dependency of /app).
COPY consumer ./consumer
COPY schemas ./schemas
COPY scoring ./scoring
COPY training ./training
COPY impact ./impact
COPY registry ./registry
RUN --mount=type=cache,target=/tmp/poetry-cache --mount=type=secret,id=ca-bundle \
    if [ -s /run/secrets/ca-bundle ]; then \
      export REQUESTS_CA_BUNDLE=/run/secrets/ca-bundle SSL_CERT_FILE=/run/secrets/ca-bundle \
             PIP_CERT=/run/secrets/ca-bundle; \
    fi \
    && poetry install --only main \
    && .venv/bin/python -m compileall -q -j 0 consumer schemas scoring training impact registry

# The default model, trained at build time: deterministic, so the same commit gives the same model.
# Not registered: an image is no registry; the training pipeline registers (docs/mlops.md).
RUN .venv/bin/loan-scorer train --out /app/model --no-register


FROM ${PYTHON_IMAGE} AS runtime

ARG VERSION=0.0.0-dev
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="loan-scorer" \
      org.opencontainers.image.description="Real-time credit scoring of loan-application events on Kafka, exactly once, with reason codes." \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="https://github.com/loan-scorer/loan-scorer" \
      org.opencontainers.image.documentation="https://github.com/loan-scorer/loan-scorer/blob/main/docs/deploy.md" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"

# tini as PID 1: forwards SIGTERM to the scorer (which drains and commits within
# LOAN_SCORER_SHUTDOWN_TIMEOUT_S) and reaps zombies.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini=0.19.0-1+b3 \
    && rm -rf /var/lib/apt/lists/*

# A fixed numeric non-root user, so Kubernetes' runAsNonRoot can verify it without a name lookup.
#
# And the directory of the scorer's state (LOAN_SCORER_STATE_DIR below): the scored event ids of
# each assigned input partition, one RocksDB store per partition. The root filesystem is read-only
# at run time (compose `read_only`, the chart's readOnlyRootFilesystem), so the settings' default,
# `state` under /app, could not be written: the state gets a directory of its own, meant to be a
# volume (compose mounts a named one, the chart an emptyDir or a PVC). It is a cache of a
# compacted changelog topic: losing it is safe (a cold restore from the changelog), keeping it
# across a restart means reading only the changelog's tail. Owned by the image's user and group 0,
# group-writable: an empty volume mounted here starts with this ownership (Docker copies it), and
# an arbitrary UID in group 0 (OpenShift) can write to it too.
RUN groupadd --system --gid 10001 loanscorer \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin loanscorer \
    && install -d -o 10001 -g 0 -m 0770 /var/lib/loan-scorer/state

WORKDIR /app
# Owned by root and not writable by the scorer: code and model are read-only at run time.
COPY --from=builder /app/.venv ./.venv
COPY --from=builder /app/consumer ./consumer
COPY --from=builder /app/schemas ./schemas
COPY --from=builder /app/scoring ./scoring
COPY --from=builder /app/training ./training
COPY --from=builder /app/impact ./impact
COPY --from=builder /app/registry ./registry
COPY --from=builder /app/model ./model

ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MPLBACKEND=Agg \
    MPLCONFIGDIR=/tmp/matplotlib \
    LOAN_SCORER_MODEL_DIR=/app/model \
    LOAN_SCORER_STATE_DIR=/var/lib/loan-scorer/state \
    LOAN_SCORER_HTTP_PORT=8000

USER 10001:10001
EXPOSE 8000
# Even `docker run --read-only` without a mount gets a writable (anonymous) volume here, so the
# scorer never fails at its first batch for want of a state directory.
VOLUME ["/var/lib/loan-scorer/state"]

# Slim images have no curl: ask /healthz with the standard library. Exit 1 on any error or non-2xx.
# /healthz is on the ops port when one is set (LOAN_SCORER_HTTP_OPS_PORT), else on the API's.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + (os.environ.get('LOAN_SCORER_HTTP_OPS_PORT') or os.environ.get('LOAN_SCORER_HTTP_PORT', '8000')) + '/healthz', timeout=2)"]

ENTRYPOINT ["/usr/bin/tini", "--", "loan-scorer"]
CMD ["run"]
