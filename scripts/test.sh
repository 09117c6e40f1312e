#!/usr/bin/env bash
# Runs the whole test suite with the race detector: the core module and the
# pgstore module, against a throwaway PostgreSQL server started here (unless
# RELAYHOOK_PG_URL already names one) and stopped at the end.
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
(cd webhookotel && go test -race -count=1 ./...)
# The two-dispatcher proof at full size (10,000 events to 10 subscriptions)
# is too slow under the race detector, which runs it at a tenth of that.
(cd pgstore && go test -count=1 -run '^TestProofTwoDispatchersDeliverEverythingOnce$' .)
