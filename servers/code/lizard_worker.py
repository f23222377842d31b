"""Measure JavaScript or TypeScript read from stdin; print the measurements as
JSON in metrics_worker.py's shape.

Run by servers.code.analyzers as a limited child process (never imported by the
server), with the snippet's file name as its argument (lizard picks its
language reader by extension): lizard's cyclomatic complexity per function
(exactly `lizard`'s CCN), its cognitive extension (SonarSource's rules), its
NLOC for the file, and a maintainability index by radon's formula from lizard's
numbers (see `maintainability`).
"""

from __future__ import annotations

import json
import math
import sys

from lizard import FileAnalyzer, get_extensions

# lizard's name for the code outside any function ("outside" extension).
GLOBAL = "*global*"


def maintainability(volume: float, cyclomatic: int, sloc: int) -> float:
    """radon's `mi_compute` without its comment term (lizard does not count
    comment lines): 171 - 5.2 ln V - 0.23 G - 16.2 ln L, scaled to 0-100."""
    if volume <= 0 or sloc <= 0:
        return 100.0
    raw = 171 - 5.2 * math.log(volume) - 0.23 * cyclomatic - 16.2 * math.log(sloc)
    return min(max(0.0, raw * 100 / 171), 100.0)


def measure(code: str, filename: str) -> dict[str, object]:
    analyzer = FileAnalyzer(get_extensions(["cognitive", "halstead", "outside"]))
    info = analyzer.analyze_source_code(filename, code)
    outside = [f for f in info.function_list if f.name == GLOBAL]
    blocks = [f for f in info.function_list if f.name != GLOBAL]
    functions = [
        {
            "name": f.name.replace("::", "."),  # "Parser.parse", as for Python
            "line": f.start_line,
            "cyclomatic": f.cyclomatic_complexity,
            "cognitive": f.cognitive_complexity,
            "loc": f.end_line - f.start_line + 1,
        }
        for f in blocks
    ]
    # Summed over functions; code without any is measured as its top level.
    measured = blocks or outside
    cyclomatic = sum(f.cyclomatic_complexity for f in measured)
    volume = sum(f.halstead_volume for f in info.function_list)
    return {
        "functions": functions,
        "cyclomatic": cyclomatic,
        "cognitive": sum(f.cognitive_complexity for f in measured),
        "mi": maintainability(volume, cyclomatic, info.nloc),
        "sloc": info.nloc,
    }


if __name__ == "__main__":
    json.dump(measure(sys.stdin.read(), sys.argv[1]), sys.stdout)
