#!/usr/bin/env bash
# Runs the whole test suite with the race detector: the core module, the
# pgstore module and the River comparison's module (one very short round of
# each scenario), against a throwaway PostgreSQL server started here (unless
# RELAYHOOK_PG_URL already names one) and stopped at the end; then the
# portal's browser tests in headless Chromium, installed through apt-get
# when missing (under CI a missing browser fails the run, elsewhere those
# tests skip with a message).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${RELAYHOOK_PG_URL:-}" ]; then
	pgdir=$(mktemp -d)
	trap 'bash scripts/postgres.sh stop "$pgdir" >/dev/null 2>&1 || true; rm -rf "$pgdir"' EXIT
	RELAYHOOK_PG_URL=$(bash scripts/postgres.sh start "$pgdir")
	export RELAYHOOK_PG_URL
fi

go test -race -count=1 ./...
(cd pgstore && go test -race -count=1 ./...)
# The management API's answers validated against its OpenAPI document, on
# memstore and pgstore.
(cd manage/apitest && go test -race -count=1 ./...)
(cd webhookotel && go test -race -count=1 ./...)
# The two-dispatcher proof at full size (10,000 events to 10 subscriptions)
# is too slow under the race detector, which runs it at a tenth of that.
(cd pgstore && go test -count=1 -run '^TestProofTwoDispatchersDeliverEverythingOnce$' .)
# The River comparison (bench/river, a module of its own so that nothing
# else depends on River): vet, and one very short round of each scenario.
(cd bench/river && go vet ./... && go test -race -count=1 ./...)

# The portal in a real browser: one Chromium for the whole test binary.
# Screenshots land in portal/browsertest/screenshots (git-ignored).
if ! bash scripts/chromium.sh; then
	if [ "${CI:-}" = true ]; then
		echo "test.sh: the portal's browser tests need Chromium, which could not be installed" >&2
		exit 1
	fi
	echo "test.sh: no Chromium: the portal's browser tests will skip" >&2
fi
(cd portal/browsertest && go test -race -count=1 ./...)
