# The API behind gunicorn. Data (SQLite store, index versions) lives in the /data volume, or the
# store in PostgreSQL with DATABASE_URL (then /data keeps this container's copy of the index).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=8080 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/metrics

WORKDIR /app
COPY requirements.txt requirements-scale.txt ./
# CPU-only torch first, so that sentence-transformers does not pull a CUDA build. psycopg too, so that
# DATABASE_URL works (README "Scaling out"); Ray's nodes are set up on their own.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
 && pip install -r requirements.txt \
 && grep psycopg requirements-scale.txt | pip install -r /dev/stdin

COPY index/ index/
COPY service/ service/
COPY sample/ sample/

RUN useradd --system --uid 10001 app && mkdir -p /data /tmp/metrics && chown app /data /tmp/metrics
USER app
VOLUME ["/data"]
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"
# First start on an empty volume: docker run ... python -m service ingest sample/ant_2017_feb_mar.jsonl.gz \
#   --vectors sample/ant_2017_feb_mar.vectors.npz, then ... python -m service rebuild
# 16 threads a worker, as `make serve-prod`: a few clients sending bodies slowly cannot take them all.
CMD ["gunicorn", "--bind", "0.0.0.0:8080", "--workers", "2", "--threads", "16", "--timeout", "600", "service.wsgi:app"]
