#!/bin/sh
# Runs the pytest suite against the built binary ($CORRAL).
cd "${CORRAL_SRCDIR:-$(dirname "$0")/..}" || exit 99
export PYTHONDONTWRITEBYTECODE=1
exec "${PYTHON3:-python3}" -m pytest -p no:cacheprovider -q -rfE "tests" ${PYTEST_ARGS:-}
