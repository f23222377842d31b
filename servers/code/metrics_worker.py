"""Measure Python code read from stdin; print the measurements as JSON.

Run by servers.code.analyzers as a limited child process (never imported by the
server): radon for cyclomatic complexity (per function and method, exactly as
`radon cc` reports it), maintainability index (`radon mi`) and source lines
(`radon raw`), complexipy for cognitive complexity.
"""

from __future__ import annotations

import json
import sys

from complexipy import code_complexity
from radon.metrics import mi_visit
from radon.raw import analyze
from radon.visitors import ComplexityVisitor


def measure(code: str) -> dict[str, object]:
    visitor = ComplexityVisitor.from_code(code)
    blocks = [*visitor.functions, *(m for c in visitor.classes for m in c.methods)]
    cognitive = {
        (f.line_start, f.name.rsplit("::", 1)[-1]): f.complexity for f in code_complexity(code).functions
    }
    functions = [
        {
            "name": block.fullname,
            "line": block.lineno,
            "cyclomatic": block.complexity,
            "cognitive": cognitive.get((block.lineno, block.name), 0),
            "loc": block.endline - block.lineno + 1,
        }
        for block in blocks
    ]
    return {
        "functions": functions,
        # Summed over functions and methods; code without any is the module's own.
        "cyclomatic": sum(f["cyclomatic"] for f in functions) if functions else visitor.complexity,
        "cognitive": code_complexity(code).complexity,
        "mi": mi_visit(code, multi=True),
        "sloc": analyze(code).sloc,
    }


if __name__ == "__main__":
    json.dump(measure(sys.stdin.read()), sys.stdout)
