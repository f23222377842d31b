"""google.api.http path templates -> Envoy route path matchers.

Grammar (google/api/http.proto):

    Template = "/" Segments [ Verb ] ;
    Segments = Segment { "/" Segment } ;
    Segment  = "*" | "**" | LITERAL | Variable ;
    Variable = "{" FieldPath [ "=" Segments ] "}" ;
    Verb     = ":" LITERAL ;

A ``{var}`` (and ``*``) matches exactly one path segment, ``**`` any number of
segments. The regex only has to pick the right Envoy route (for the per-route
JWT, rate-limit and body-size settings); the transcoder does the exact
binding of variables to request fields afterwards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ONE_SEGMENT = "[^/]+"
ANY_SEGMENTS = ".*"

# Sort ranks of a segment: a literal wins over a single-segment wildcard, which
# wins over a multi-segment wildcard (the same preference as the transcoder's
# own path matcher), so `/tasks/stats` is tried before `/tasks/{id}`.
_LITERAL, _SINGLE, _MULTI = 0, 1, 2


class TemplateError(ValueError):
    """A google.api.http path template that does not follow the grammar."""


@dataclass(frozen=True)
class PathTemplate:
    """A parsed path template."""

    template: str
    regex: str
    """RE2 regex (full match) for the path; equals re.escape(template) for literal templates."""
    literal: bool
    """True when the template has no wildcard or variable (an exact path match suffices)."""
    rank: tuple[int, ...]
    """Per-segment specificity (0 literal, 1 one segment, 2 many); lower sorts first."""
    verb: str | None

    def sort_key(self) -> tuple[tuple[int, ...], int, str]:
        """Order so that a more specific template is matched before a general one."""
        return (self.rank, 0 if self.verb else 1, self.template)


def _split_top(text: str, sep: str) -> list[str]:
    """Split on `sep` outside of braces."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in text:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                raise TemplateError("unbalanced '}'")
        if ch == sep and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if depth != 0:
        raise TemplateError("unbalanced '{'")
    parts.append("".join(current))
    return parts


def _segments(text: str, ranks: list[int]) -> str:
    out: list[str] = []
    for segment in _split_top(text, "/"):
        if not segment:
            raise TemplateError("empty path segment")
        if segment == "*":
            ranks.append(_SINGLE)
            out.append(ONE_SEGMENT)
        elif segment == "**":
            ranks.append(_MULTI)
            out.append(ANY_SEGMENTS)
        elif segment.startswith("{"):
            if not segment.endswith("}"):
                raise TemplateError(f"bad variable segment {segment!r}")
            inner = segment[1:-1]
            field, eq, sub = inner.partition("=")
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", field):
                raise TemplateError(f"bad field path {field!r}")
            if eq:
                out.append(_segments(sub, ranks))
            else:
                ranks.append(_SINGLE)
                out.append(ONE_SEGMENT)
        elif any(c in segment for c in "{}*"):
            raise TemplateError(f"bad literal segment {segment!r}")
        else:
            ranks.append(_LITERAL)
            out.append(re.escape(segment))
    return "/".join(out)


def parse_template(template: str) -> PathTemplate:
    """Parse a google.api.http path template."""
    if not template.startswith("/"):
        raise TemplateError(f"path template must start with '/': {template!r}")
    body = template[1:]
    parts = _split_top(body, ":")
    verb: str | None = None
    if len(parts) > 2:
        raise TemplateError(f"more than one verb in {template!r}")
    if len(parts) == 2:
        body, verb = parts
        if not verb or "/" in verb:
            raise TemplateError(f"bad verb in {template!r}")
    ranks: list[int] = []
    regex = "/" + _segments(body, ranks)
    if verb is not None:
        regex += re.escape(":" + verb)
    literal = all(r == _LITERAL for r in ranks)
    return PathTemplate(template=template, regex=regex, literal=literal, rank=tuple(ranks), verb=verb)
