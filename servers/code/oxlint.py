"""oxlint, the JavaScript/TypeScript linter of a review: its command line and
its JSON diagnostics as findings. oxlint reads files only (no stdin), so the
snippet is written into a private temporary directory that is its working
directory, with no configuration or ignore file of its own."""

from __future__ import annotations

import json
import re

from servers.code.domain import Finding

# On top of oxlint's default "correctness" rules: code run from strings
# (security) and two style rules that catch real bugs (loose equality, `var`).
SECURITY_RULES = ("no-eval", "no-new-func", "no-script-url")
STYLE_RULES = ("eqeqeq", "no-var")


def argv(oxlint: str, filename: str) -> list[str]:
    flags = [f"--warn={rule}" for rule in (*SECURITY_RULES, *STYLE_RULES)]
    # One thread (the limits are per analyzer); no nested config, no ignore
    # files: what is sent is what is linted.
    return [
        oxlint, "--format=json", "--threads=1", "--disable-nested-config", "--no-ignore", *flags, filename
    ]  # fmt: skip


_CODE = re.compile(r"^(?P<plugin>[\w-]+)\((?P<rule>[\w/-]+)\)$")


def _rule(code: str) -> str:
    """ "eslint(no-eval)" -> "no-eval", "typescript(no-explicit-any)" ->
    "typescript/no-explicit-any" (oxlint's own config names); no code is a
    syntax error."""
    match = _CODE.match(code)
    if match is None:
        return code or "syntax-error"
    plugin, rule = match["plugin"], match["rule"]
    return rule if plugin == "eslint" else f"{plugin}/{rule}"


def _severity(rule: str) -> str:
    if rule == "syntax-error" or rule in SECURITY_RULES:
        return "error"
    return "info" if rule in STYLE_RULES else "warning"


def findings(stdout: bytes) -> list[Finding]:
    data = json.loads(stdout)
    if data.get("number_of_files", 1) != 1:  # never "no issues" for a file it skipped
        raise ValueError(f"oxlint linted {data.get('number_of_files')} files, not the one sent")
    found = []
    for item in data["diagnostics"]:
        rule = _rule(item.get("code") or "")
        span = (item.get("labels") or [{}])[0].get("span", {})
        found.append(
            Finding(
                severity=_severity(rule),
                line=int(span.get("line", 0)),
                column=int(span.get("column", 0)),
                message=item["message"],
                rule=rule,
                suggestion=item.get("help") or "",
                source="oxlint",
                security=rule in SECURITY_RULES,
            )
        )
    return found
