"""The allow-listed test runners: each request option maps to a fixed argument,
and every runner writes a JUnit XML report to /report/junit.xml (the only file
the server reads back). Paths are sandbox paths (servers.code.sandbox.bwrap)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

REPORT = "/report/junit.xml"
PYTHON = "/usr/bin/python3"  # a link, in the sandbox, to the server's interpreter
NODE = "/usr/bin/node"
COLLECTOR = "/opt/aether/collect.py"
RUNNERS = ("pytest", "unittest", "node")


@dataclass(frozen=True)
class RunOptions:
    runner: str
    test_paths: tuple[str, ...] = ()
    keyword: str = ""
    verbose: bool = False
    fail_fast: bool = False


def command(options: RunOptions, python: str = PYTHON) -> list[str]:
    """The runner's argument list inside the sandbox (cwd /work)."""
    paths: Sequence[str] = options.test_paths
    match options.runner:
        case "pytest":
            argv = [python, "-m", "pytest", "-p", "no:cacheprovider", "--color=no", f"--junitxml={REPORT}"]
            argv += ["-o", "junit_family=xunit2", "-v" if options.verbose else "-q"]
            argv += ["-x"] if options.fail_fast else []
            argv += ["-k", options.keyword] if options.keyword else []
            return [*argv, "--", *paths]
        case "unittest":  # python -m unittest, with unittest-xml-reporting's JUnit output
            flags = ["-v"] if options.verbose else []
            flags += ["-f"] if options.fail_fast else []
            flags += ["-k", options.keyword] if options.keyword else []
            flags.append(f"--output-file={REPORT}")
            if not paths:
                return [python, "-m", "xmlrunner", "discover", "-s", ".", "-t", ".", *flags]
            return [
                python,
                "-m",
                "xmlrunner",
                *flags,
                *(p.removesuffix(".py").replace("/", ".") for p in paths),
            ]
        case "node":
            argv = [NODE, "--test", "--test-reporter=spec", "--test-reporter-destination=stdout"]
            argv += ["--test-reporter=junit", f"--test-reporter-destination={REPORT}"]
            argv += [f"--test-name-pattern={options.keyword}"] if options.keyword else []
            return [*argv, *paths]
        case _:
            raise ValueError(f"unknown runner {options.runner!r}")


def collect_command(framework: str, python: str = PYTHON) -> list[str]:
    """Counts the tests a framework collects (servers/code/sandbox/collect.py)."""
    return [python, COLLECTOR, framework]
