#!/bin/sh
# Runs the pytest suite against the built binary ($CORRAL).  Under `make
# check` (fd 9 is make's stderr: AM_TESTS_FD_REDIRECT) it ends with a short
# summary of what passed, failed and was skipped, and why.
cd "${CORRAL_SRCDIR:-$(dirname "$0")/..}" || exit 99
export PYTHONDONTWRITEBYTECODE=1
CORRAL_SKIP_SUMMARY=$(mktemp "${TMPDIR:-/tmp}/corral-pytest-summary.XXXXXX") || exit 99
export CORRAL_SKIP_SUMMARY
"${PYTHON3:-python3}" -m pytest -p no:cacheprovider -q -rfE "tests" ${PYTEST_ARGS:-}
rc=$?
if { true >&9; } 2>/dev/null; then
  cat "$CORRAL_SKIP_SUMMARY" >&9
fi
rm -f "$CORRAL_SKIP_SUMMARY"
exit $rc
