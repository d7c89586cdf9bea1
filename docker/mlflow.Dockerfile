# MLflow tracking server: MySQL backend store (PyMySQL; cryptography for MySQL 8's
# caching_sha2_password), artifacts proxied to MinIO (boto3). Same pins as the product.
# Build from the repository root: docker build -f docker/mlflow.Dockerfile .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

RUN python -m venv "$VIRTUAL_ENV"

COPY requirements.lock /tmp/requirements.lock
RUN pip install -c /tmp/requirements.lock mlflow PyMySQL cryptography boto3 \
    && rm /tmp/requirements.lock \
    && groupadd --system --gid 10001 mlflow \
    && useradd --system --uid 10001 --gid 10001 --home-dir /opt/mlflow --create-home \
       --shell /usr/sbin/nologin mlflow

USER 10001:10001
WORKDIR /opt/mlflow

EXPOSE 5000
CMD ["mlflow", "server", "--host", "0.0.0.0", "--port", "5000"]
