"""Test counts from a runner's JUnit XML report (pytest --junitxml, node's
junit reporter, unittest-xml-reporting), never from its text output. The
report is written by untrusted code: it is size-capped, and one that declares
a DOCTYPE (entity expansion) is refused."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

MAX_REPORT_BYTES = 8 << 20


@dataclass(frozen=True)
class Summary:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    errors: int = 0

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.skipped + self.errors


def parse(report: bytes) -> Summary | None:
    """The counts of every <testcase>; None if there is no readable report."""
    if not report or len(report) > MAX_REPORT_BYTES or b"<!DOCTYPE" in report or b"<!ENTITY" in report:
        return None
    try:
        root = ET.fromstring(report)  # noqa: S314 (size-capped, no DOCTYPE)
    except ET.ParseError:
        return None
    counts = {"passed": 0, "failed": 0, "skipped": 0, "errors": 0}
    for case in root.iter("testcase"):
        kinds = {child.tag for child in case}
        if "error" in kinds:
            counts["errors"] += 1
        elif "failure" in kinds:
            counts["failed"] += 1
        elif "skipped" in kinds:
            counts["skipped"] += 1
        else:
            counts["passed"] += 1
    return Summary(**counts)
