# The app image: Debian 12 and Python 3.11, as on the development machines, served by
# gunicorn with $WORKERS processes (default 2) on $PORT. See docker-compose.yml and the
# README section "Deploying on PostgreSQL with several app servers".
# NOTE: written carefully but not built here: the development machines have no docker.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

# Chromium and Noto CJK render the field-map PDF/PNG exports (township/fieldmap_render.py);
# everything else (GEOS, PROJ, GDAL, libpq) comes inside the Python wheels.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-noto-cjk \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .
RUN useradd --system --home-dir /app --shell /usr/sbin/nologin township \
 && mkdir -p /app/var/jobs && chown -R township /app/var
USER township

ENV HOST=0.0.0.0 PORT=8050 WORKERS=2 JOBS_DIR=/app/var/jobs
EXPOSE 8050

# Every worker opens the store on start: the first migrates it (Alembic, under a lock),
# the others find it current. --timeout: the first page build of a cold worker can be slow.
CMD ["sh", "-c", "exec gunicorn -w \"$WORKERS\" -b \"0.0.0.0:$PORT\" --timeout 120 --access-logfile - app:server"]
