"""Give the betterproto2 SDK's sync client calls `timeout` and `metadata` keywords.

betterproto2-compiler 0.9's sync (grpcio) stub template passes only the message to grpcio's
multicallable, although grpcio takes a timeout and metadata on every call; its async
(grpclib) template has both. This rewrites the generated sync methods to forward them:

    stub.get_me(GetMeRequest(), metadata=[("authorization", f"Bearer {token}")], timeout=5)
"""

from __future__ import annotations

import re
from pathlib import Path

# `def name(self, message: "T") -> "R":`, `(self, messages: "Iterable[T]")`, `"T | None" = None`,
# on one line or (long names) wrapped after the parenthesis.
_SIGNATURE = re.compile(r'(    def \w+\(\s*self, messages?: "[^"]+"(?: = None)?)(\s*)\) -> ')
# the call of the grpcio multicallable: `)(message)` or `)(iter(messages))`
_CALL = re.compile(r"^(\s+)\)\((message|iter\(messages\))\)$", re.M)
_KEYWORDS = ', *, timeout: "float | None" = None, metadata: "Sequence[tuple[str, str]] | None" = None'


def add_call_options(sdk_root: Path) -> int:
    """Rewrite every generated sync stub under `sdk_root`; returns the number of methods."""
    count = 0
    for module in sorted(sdk_root.rglob("__init__.py")):
        text = module.read_text()
        if "self._channel." not in text:
            continue
        text, signatures = _SIGNATURE.subn(rf"\1{_KEYWORDS}\2) -> ", text)
        text, calls = _CALL.subn(r"\1)(\2, timeout=timeout, metadata=metadata)", text)
        if signatures != calls:
            raise RuntimeError(f"{module}: {signatures} stub methods but {calls} calls (template changed?)")
        if "from collections.abc import Sequence" not in text:
            text = text.replace("import grpc\n", "import grpc\nfrom collections.abc import Sequence\n", 1)
        module.write_text(text)
        count += signatures
    return count
