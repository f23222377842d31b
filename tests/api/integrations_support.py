"""Signing webhook deliveries the way GitHub, Slack and Discord do, for the
Integration Hub's tests and benchmarks."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

GITHUB_SECRET = "gh-webhook-secret"
SLACK_SECRET = "slack-signing-secret"
DISCORD_KEY = Ed25519PrivateKey.generate()
DISCORD_PUBLIC_KEY = DISCORD_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
DISCORD_APP_ID = "555555555555555555"


def body_of(payload: dict[str, Any]) -> bytes:
    """A provider-style body: pretty-printed, so a re-serialized body differs."""
    return json.dumps(payload, indent=2).encode()


def github_headers(
    body: bytes, event: str, delivery: str | None = None, secret: str = GITHUB_SECRET
) -> dict[str, str]:
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "x-hub-signature-256": signature,
        "x-github-event": event,
        "x-github-delivery": delivery or str(uuid.uuid4()),
    }


def slack_headers(body: bytes, timestamp: int | None = None, secret: str = SLACK_SECRET) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + ts.encode() + b":" + body
    return {
        "x-slack-request-timestamp": ts,
        "x-slack-signature": "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest(),
    }


def discord_headers(
    body: bytes, timestamp: int | None = None, key: Ed25519PrivateKey = DISCORD_KEY
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {"x-signature-ed25519": key.sign(ts.encode() + body).hex(), "x-signature-timestamp": ts}


def pull_request_opened(number: int = 42, repo: str = "acme/repo-001") -> dict[str, Any]:
    return {
        "action": "opened",
        "number": number,
        "pull_request": {
            "number": number,
            "title": "Add login page",
            "html_url": f"https://github.com/{repo}/pull/{number}",
            "body": "Implements the OAuth login.",
            "user": {"login": "octocat"},
        },
        "repository": {"full_name": repo, "id": 1001},
        "sender": {"login": "octocat"},
    }


def issue_opened(number: int = 7, repo: str = "acme/repo-001") -> dict[str, Any]:
    return {
        "action": "opened",
        "issue": {
            "number": number,
            "title": "Crash on start",
            "html_url": f"https://github.com/{repo}/issues/{number}",
        },
        "repository": {"full_name": repo},
    }
