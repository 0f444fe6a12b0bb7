# execplanner service image: `docker build -t execplanner . && docker run -p 8080:8080 execplanner`
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    EXECPLANNER_HOST=0.0.0.0 \
    EXECPLANNER_PORT=8080 \
    EXECPLANNER_DATA_DIR=/data \
    EXECPLANNER_SCHEMA_DIR=/app/schemas

WORKDIR /app
COPY pyproject.toml README.md ./
COPY execplanner ./execplanner
COPY schemas ./schemas
RUN pip install --no-cache-dir . \
    && useradd --system --home-dir /data --create-home execplanner

USER execplanner
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)" || exit 1
CMD ["execplanner", "serve"]
