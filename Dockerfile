# syntax=docker/dockerfile:1
# Two stages: wheels are built with compilers present, the runtime image has none of them.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY drishtiksha ./drishtiksha
COPY accounts ./accounts
COPY audit ./audit
COPY integrations ./integrations
COPY legacy ./legacy
COPY media_analysis ./media_analysis
COPY monitoring ./monitoring
RUN pip wheel --wheel-dir /wheels .

FROM python:3.11-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    DJANGO_ENV=production DRISHTIKSHA_VAR_DIR=/var/lib/drishtiksha
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system app && useradd --system --gid app --home /app app \
    && mkdir -p /var/lib/drishtiksha/media && chown -R app:app /var/lib/drishtiksha
COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links=/wheels drishtiksha && rm -rf /wheels
WORKDIR /app
COPY --chown=app:app . .
# collectstatic needs settings but no secrets or services: give it throwaway values.
RUN DJANGO_SECRET_KEY=collectstatic-only DJANGO_ALLOWED_HOSTS=localhost \
    DATABASE_URL=postgres://unused/unused REDIS_URL=redis://unused:6379/0 \
    python manage.py collectstatic --noinput
USER app
EXPOSE 8000
# Asks with a Host from DJANGO_ALLOWED_HOSTS, which production settings require (see the script).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "/app/docker/healthcheck.py", "/api/health"]
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["web"]
