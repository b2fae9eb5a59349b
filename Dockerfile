# tally's server image: the package installed from this repository, run as a
# user without privileges; the entry point is `tally serve` (docs/deploy.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY domain ./domain
COPY application ./application
COPY infrastructure ./infrastructure
COPY interfaces ./interfaces
COPY projections ./projections
RUN pip install '.[tracing]' && rm -rf /src

RUN useradd --system --uid 10001 --create-home --home-dir /var/lib/tally tally
USER tally
WORKDIR /var/lib/tally

# A log shipper reads one JSON object per line; the default store is SQLite
# in the working directory (mount a volume there), TALLY_DATABASE_URL picks another.
ENV TALLY_LOG_FORMAT=json
EXPOSE 8000
ENTRYPOINT ["tally", "serve"]
CMD ["--host", "0.0.0.0", "--port", "8000"]
