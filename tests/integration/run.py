#!/usr/bin/env python3
"""run: forkd's integration tests (tests/integration/test_*.py) against $FORKD_BIN.

usage: FORKD_BIN=build/forkd-san python3 tests/integration/run.py [-k NAME]... [-v] [-x]

  -k NAME  run only the tests whose id (module.Class.test_name) contains NAME
           (case-insensitive; several -k: any of them)
  -v       print one line per test
  -x       stop at the first failure

The last line is "N passed, N failed, N skipped"; the exit status is 1 if any
test (or a class fixture: server start/stop, sanitizer report) failed.
"""

import argparse
import atexit
import faulthandler
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402

# Last resort against a hung suite: every socket has a timeout, but dump the
# stacks and exit rather than hang a CI job forever.
WATCHDOG_S = 900


class Result(unittest.TextTestResult):
    """Counts outcomes per test; class fixture errors count as failures."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.passed = 0
        self.failed = 0
        self.started_at = {}
        self.durations = []

    def startTest(self, test):
        self.started_at[test.id()] = time.monotonic()
        super().startTest(test)

    def stopTest(self, test):
        super().stopTest(test)
        started = self.started_at.pop(test.id(), None)
        if started is not None:
            self.durations.append((time.monotonic() - started, test.id()))

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self.failed += 1

    def addError(self, test, err):
        super().addError(test, err)
        self.failed += 1

    def addSubTest(self, test, subtest, err):
        # a failed subTest never reaches addFailure/addError: count it here
        super().addSubTest(test, subtest, err)
        if err is not None:
            self.failed += 1

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.failed += 1

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self.passed += 1


def iter_tests(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from iter_tests(item)
        else:
            yield item


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-k", action="append", default=[], metavar="NAME",
                    help="run tests whose id contains NAME")
    ap.add_argument("-v", action="store_true", help="one line per test")
    ap.add_argument("-x", action="store_true", help="stop at the first failure")
    args = ap.parse_args()

    binary = harness.forkd_bin()
    if not os.access(binary, os.X_OK):
        print("run.py: FORKD_BIN %s is not an executable (run make first)" % binary)
        print("0 passed, 1 failed")
        return 1

    faulthandler.dump_traceback_later(WATCHDOG_S, exit=True)
    atexit.register(harness.kill_leftovers)

    loader = unittest.TestLoader()
    discovered = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    selected = unittest.TestSuite()
    names = [k.lower() for k in args.k]
    for test in iter_tests(discovered):
        if isinstance(test, unittest.loader._FailedTest):  # import error: always report
            selected.addTest(test)
        elif not names or any(n in test.id().lower() for n in names):
            selected.addTest(test)

    print("forkd integration tests: %s, %d tests" % (binary, selected.countTestCases()))
    sys.stdout.flush()
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2 if args.v else 1,
                                     failfast=args.x, resultclass=Result)
    started = time.monotonic()
    result = runner.run(selected)
    elapsed = time.monotonic() - started
    harness.kill_leftovers()

    if args.v:
        print("slowest tests:")
        for took, name in sorted(result.durations, reverse=True)[:8]:
            print("  %6.2fs %s" % (took, name))
    print("wall time %.1fs" % elapsed)
    summary = "%d passed, %d failed" % (result.passed, result.failed)
    if result.skipped:
        summary += ", %d skipped" % len(result.skipped)
    print(summary)
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
