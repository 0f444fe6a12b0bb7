# syntax=docker/dockerfile:1
# The execplanner service image (docs/operator.md):
#   docker build -t execplanner . && docker run -p 8080:8080 -v execplanner-data:/data execplanner
# or, with PostgreSQL beside it: docker compose up (compose.yaml).
#
# Base image pinned by tag and digest (python 3.11, Debian bookworm, slim); update both together, e.g. with
# `docker buildx imagetools inspect python:3.11.10-slim-bookworm`. Both stages use the same image, so the
# virtual environment built in the first runs unchanged in the second.
ARG PYTHON_IMAGE=python:3.11.10-slim-bookworm@sha256:5148c0e4bbb64271bca1d3322360ebf4bfb7564507ae32dd639322e4952a6b16

# --- build: a wheel from the sources, installed with its dependencies into /opt/execplanner -------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY schemas ./schemas
# execplanner/schemas is a symlink to ../schemas: the wheel gets real copies of the schemas
COPY execplanner ./execplanner
RUN python -m pip install "pip>=24" "setuptools>=77" \
    && python -m pip wheel --no-deps --no-build-isolation -w /dist . \
    && python -m venv /opt/execplanner \
    && /opt/execplanner/bin/pip install /dist/execplanner-*.whl \
    && /opt/execplanner/bin/pip uninstall -y pip

# --- run: the virtual environment only, as an unprivileged user --------------------------------------------
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/execplanner/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    EXECPLANNER_HOST=0.0.0.0 \
    EXECPLANNER_PORT=8080 \
    EXECPLANNER_DATA_DIR=/data
RUN useradd --system --uid 10001 --user-group --home-dir /data --create-home --shell /usr/sbin/nologin execplanner
COPY --from=build /opt/execplanner /opt/execplanner
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
# reads the same EXECPLANNER_* settings (and EXECPLANNER_CONFIG file) as serve: it follows the configured port
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["execplanner", "healthcheck"]
# exit codes on a failed start (docs/configuration.md): 78 settings, 69 database, 66 catalogue, 71 port
CMD ["execplanner", "serve"]
