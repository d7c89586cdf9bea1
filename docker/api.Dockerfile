# API image: the FastAPI gateway (`python -m api.server`: uvicorn with the keep-alive timeout and concurrency
# limit of RISKGRAPH_API_*, port 8000).
# Build from the repository root: docker build -f docker/api.Dockerfile .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    RISKGRAPH_HOME=/var/lib/riskgraph \
    RISKGRAPH_MIGRATIONS_DIR=/opt/riskgraph/app/db/migrations

# The champion model may be LightGBM, whose wheel needs the system OpenMP runtime; libmariadb3 is MariaDB
# Connector/Python's.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 libmariadb3 \
    && rm -rf /var/lib/apt/lists/* \
    && python -m venv "$VIRTUAL_ENV"

WORKDIR /opt/riskgraph/app

# Dependencies first (pinned by requirements.lock) so a source change does not reinstall them.
COPY pyproject.toml requirements.lock ./
# MariaDB Connector/Python (the `mariadb` extra, for a MariaDB warehouse) compiles against libmariadb: its build
# tools are removed again in the same layer, the runtime library (libmariadb3, above) stays.
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['mariadb']))" > /tmp/requirements.txt \
    && apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev libmariadb-dev \
    && pip install -c requirements.lock -r /tmp/requirements.txt \
    && apt-get purge -y --auto-remove gcc libc6-dev libmariadb-dev \
    && rm -rf /var/lib/apt/lists/* /tmp/requirements.txt

COPY . .
RUN pip install -c requirements.lock . \
    && groupadd --system --gid 10001 riskgraph \
    && useradd --system --uid 10001 --gid 10001 --home-dir /opt/riskgraph --no-create-home \
       --shell /usr/sbin/nologin riskgraph \
    && mkdir -p "$RISKGRAPH_HOME" \
    && chown -R riskgraph:riskgraph "$RISKGRAPH_HOME"

# The code version stamped on every score row (risk_assets/version.py); the image has no .git.
ARG RISKGRAPH_GIT_COMMIT=
ENV RISKGRAPH_GIT_COMMIT=${RISKGRAPH_GIT_COMMIT}

# The served API's limits (risk_assets/settings.py, docs/api.md), as image defaults.
ENV RISKGRAPH_API_HEADER_TIMEOUT_SECONDS=10 \
    RISKGRAPH_API_BODY_TIMEOUT_SECONDS=30 \
    RISKGRAPH_API_TIMEOUT_KEEP_ALIVE_SECONDS=5 \
    RISKGRAPH_API_LIMIT_CONCURRENCY=100

USER 10001:10001

EXPOSE 8000
CMD ["python", "-m", "api.server", "--host", "0.0.0.0", "--port", "8000"]
