"""Text out of a source: plain text as it is, markdown in sections by heading,
PDF page by page (pypdf, so chunks keep their page numbers), HTML without its
markup (the standard library's parser)."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser

from servers.platform.errors import FieldViolation, InvalidArgument
from servers.rag.domain import Extracted

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def _no_text(field: str) -> InvalidArgument:
    return InvalidArgument("no text could be extracted", [FieldViolation(field, "contains no text")])


def plain(text: str, field: str = "text") -> Extracted:
    if not text.strip():
        raise _no_text(field)
    return Extracted([(text, 0, "")])


def markdown(text: str) -> Extracted:
    """Sections split at headings, each labelled with its heading path ("A > B")."""
    sections: list[tuple[str, int, str]] = []
    path: list[tuple[int, str]] = []
    lines: list[str] = []
    title = ""

    def flush() -> None:
        body = "\n".join(lines).strip()
        if body:
            sections.append((body, 0, " > ".join(h for _, h in path)))
        lines.clear()

    in_fence = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match:
            flush()
            level, heading = len(match.group(1)), match.group(2)
            path = [(lvl, h) for lvl, h in path if lvl < level] + [(level, heading)]
            title = title or heading
        lines.append(line)
    flush()
    if not sections:
        raise _no_text("markdown")
    return Extracted(sections, title)


def pdf(data: bytes) -> Extracted:
    """One section per page with text (1-based page numbers)."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise InvalidArgument("encrypted PDFs are not supported", [FieldViolation("pdf", "is encrypted")])
        pages = [(page.extract_text() or "", number) for number, page in enumerate(reader.pages, start=1)]
        title = str(reader.metadata.get("/Title") or "") if reader.metadata else ""
    except InvalidArgument:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as error:
        raise InvalidArgument("the PDF cannot be read", [FieldViolation("pdf", str(error)[:200])]) from None
    sections = [(text, number, "") for text, number in pages if text.strip()]
    if not sections:
        raise _no_text("pdf")
    return Extracted(sections, title)


class _HtmlText(HTMLParser):
    _SKIP = frozenset({"script", "style", "noscript", "template", "svg", "head"})
    _BLOCK = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self._skipping = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self._SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skipping:
            self.parts.append(data)


def html(text: str) -> Extracted:
    parser = _HtmlText()
    parser.feed(text)
    parser.close()
    body = re.sub(r"\n\s*\n+", "\n\n", "".join(parser.parts)).strip()
    if not body:
        raise _no_text("url")
    return Extracted([(body, 0, "")], parser.title.strip())
