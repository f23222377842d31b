"""Shared runtime for every Aether server: settings, errors, interceptors,
database, Redis, telemetry. A domain server brings only its own code."""
