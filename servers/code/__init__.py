"""Code Assistant: the gRPC server of aether.code.v1 (docs/code-assistant.md)."""
