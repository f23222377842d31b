"""Count the tests a framework collects in /work; write {"count", "errors"} to
/report/collect.json. Run inside the sandbox by GenerateTests (never imported
by the server)."""

import json
import sys
import unittest


def pytest_count() -> tuple[int, int]:
    import pytest

    class Counter:
        items = 0
        errors = 0

        def pytest_collection_finish(self, session: pytest.Session) -> None:
            Counter.items = len(session.items)

        def pytest_collectreport(self, report: pytest.CollectReport) -> None:
            Counter.errors += int(report.failed)

    pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider"], plugins=[Counter()])
    return Counter.items, Counter.errors


def unittest_count() -> tuple[int, int]:
    loader = unittest.TestLoader()
    suite = loader.discover(".", top_level_dir=".")
    return suite.countTestCases() - len(loader.errors), len(loader.errors)


if __name__ == "__main__":
    count, errors = pytest_count() if sys.argv[1] == "pytest" else unittest_count()
    with open("/report/collect.json", "w") as out:
        json.dump({"count": count, "errors": errors}, out)
