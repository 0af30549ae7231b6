# syntax=docker/dockerfile:1
# The Mayfly image: the `mayfly` console script (controller, webhook and the
# rest of the CLI) on a slim Python base, running as an unprivileged user.
# Build: docker build -t mayfly:0.1.0 .

FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
# Project metadata first, then the packages; one venv copied into the runtime stage.
# (globs: constraints.txt and README.md are optional; pyproject.toml keeps the match non-empty)
COPY pyproject.toml constraints.txt* README.md* ./
COPY controller/ controller/
COPY anonymizer/ anonymizer/
COPY sim/ sim/
COPY capacity/ capacity/
COPY loadtests/ loadtests/
RUN python -m venv /opt/mayfly \
 && /opt/mayfly/bin/pip install --upgrade pip wheel \
 && if [ -f constraints.txt ]; then c="-c constraints.txt"; else c=""; fi \
 && /opt/mayfly/bin/pip install $c .

FROM python:3.11-slim-bookworm
LABEL org.opencontainers.image.title="mayfly" \
      org.opencontainers.image.description="Ephemeral, data-anonymised preview environments per pull request" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/mayfly/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 mayfly \
 && useradd --system --uid 10001 --gid mayfly --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin mayfly
COPY --from=build /opt/mayfly /opt/mayfly
# Numeric user, so Kubernetes can verify runAsNonRoot without a lookup.
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080 8081
ENTRYPOINT ["mayfly"]
CMD ["--help"]
