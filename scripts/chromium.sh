#!/usr/bin/env bash
# Makes sure a headless Chromium is there for the portal's browser tests
# (portal/browsertest): installs Debian's chromium package through
# apt-get when no browser is found, as scripts/postgres.sh does
# PostgreSQL. RELAYHOOK_CHROME, when set, names the browser to use and
# nothing is installed.
#
# Exits non-zero when no browser can be had. The tests themselves then
# skip with a message, or fail under CI (CI=true).
set -euo pipefail

if [[ -n ${RELAYHOOK_CHROME:-} ]]; then
	exit 0
fi
for name in chromium chromium-browser google-chrome google-chrome-stable; do
	if command -v "$name" >/dev/null 2>&1; then
		exit 0
	fi
done

echo "chromium.sh: no Chromium found, installing Debian's chromium with apt-get" >&2
sudo=()
if [[ $(id -u) -ne 0 ]]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "chromium.sh: Chromium is missing and installing it needs root" >&2
		exit 1
	fi
	sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >&2
"${sudo[@]}" apt-get install -y -qq chromium >&2
command -v chromium >/dev/null 2>&1
