#!/usr/bin/env bash
# Throwaway PostgreSQL server for tests and benchmarks.
#
#   scripts/postgres.sh start DIR   # prints the connection URL on stdout
#   scripts/postgres.sh stop DIR
#
# start installs PostgreSQL through apt-get if it is missing, creates a
# cluster in DIR (as the unprivileged user "relayhook" when run as root),
# listening on 127.0.0.1 only on a free port, and creates the database
# "relayhook". Both commands are idempotent: start on a running cluster
# prints its URL again, stop on a stopped one does nothing.
#
# The server is tuned for tests: fsync, synchronous_commit and
# full_page_writes are off unless PGFSYNC=on. Pass the URL to the tests as
# RELAYHOOK_PG_URL:
#
#   dir=$(mktemp -d)
#   export RELAYHOOK_PG_URL=$(bash scripts/postgres.sh start "$dir")
#   (cd pgstore && go test ./...)
#   bash scripts/postgres.sh stop "$dir"
set -euo pipefail

readonly OS_USER=relayhook # runs the server when started as root
readonly DB_ROLE=relayhook # superuser of the cluster
readonly DB_NAME=relayhook

die() {
	echo "postgres.sh: $*" >&2
	exit 1
}

usage() {
	echo "usage: $0 start|stop DIR" >&2
	exit 2
}

# find_bindir prints the directory holding pg_ctl and initdb, or nothing.
find_bindir() {
	local d
	if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
		dirname "$(readlink -f "$(command -v pg_ctl)")"
		return
	fi
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -V -r); do
		if [[ -x $d/pg_ctl && -x $d/initdb ]]; then
			echo "$d"
			return
		fi
	done
}

install_postgres() {
	echo "postgres.sh: PostgreSQL not found, installing it with apt-get" >&2
	local sudo=()
	if [[ $(id -u) -ne 0 ]]; then
		command -v sudo >/dev/null 2>&1 || die "PostgreSQL is missing and installing it needs root"
		sudo=(sudo)
	fi
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get update -qq >&2
	"${sudo[@]}" apt-get install -y -qq postgresql >&2
}

# as_owner runs a command as the user that owns the cluster.
as_owner() {
	if [[ $(id -u) -eq 0 ]]; then
		runuser -u "$OS_USER" -- "$@"
	else
		"$@"
	fi
}

ensure_os_user() {
	[[ $(id -u) -eq 0 ]] || return 0
	if ! id -u "$OS_USER" >/dev/null 2>&1; then
		useradd --system --no-create-home --shell /usr/sbin/nologin "$OS_USER" >&2
	fi
}

port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# write_conf writes the test settings, included from postgresql.conf.
write_conf() {
	local port=$1 durable=off
	[[ ${PGFSYNC:-off} == on ]] && durable=on
	cat >"$DATA/relayhook.conf" <<EOF
# Written by postgres.sh on every start; settings for tests.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = ''
max_connections = 200
shared_buffers = 128MB
fsync = $durable
synchronous_commit = $durable
full_page_writes = $durable
max_wal_size = 1GB
wal_level = minimal
max_wal_senders = 0
max_locks_per_transaction = 256
log_min_messages = warning
log_min_error_statement = panic
log_checkpoints = off
EOF
	chown --reference="$DATA" "$DATA/relayhook.conf"
	echo "$port" >"$DIR/port"
}

url() {
	echo "postgres://$DB_ROLE@127.0.0.1:$(cat "$DIR/port")/$DB_NAME?sslmode=disable"
}

running() {
	[[ -f $DATA/PG_VERSION ]] && as_owner "$BINDIR/pg_ctl" status -D "$DATA" >/dev/null 2>&1
}

start() {
	BINDIR=$(find_bindir)
	if [[ -z $BINDIR ]]; then
		install_postgres
		BINDIR=$(find_bindir)
		[[ -n $BINDIR ]] || die "pg_ctl and initdb still missing after installing PostgreSQL"
	fi
	ensure_os_user
	mkdir -p "$DIR"
	[[ $(id -u) -eq 0 ]] && chown "$OS_USER" "$DIR"
	chmod 700 "$DIR"
	as_owner test -w "$DIR" || die "$DIR is not writable by $(as_owner id -un) (is a parent directory private?)"
	cd "$DIR"

	if running; then
		url
		return
	fi
	if [[ ! -f $DATA/PG_VERSION ]]; then
		as_owner "$BINDIR/initdb" -D "$DATA" -U "$DB_ROLE" --auth=trust \
			--encoding=UTF8 --locale=C.UTF-8 --no-sync >"$DIR/initdb.log" 2>&1 ||
			{
				cat "$DIR/initdb.log" >&2
				die "initdb failed"
			}
		echo "include_if_exists = 'relayhook.conf'" >>"$DATA/postgresql.conf"
	fi

	local tries port
	for tries in 1 2 3 4 5 6 7 8; do
		# The port of the last start if it is free (a restart keeps its
		# URL), else a random one.
		port=$((20000 + RANDOM % 30000))
		if [[ $tries -eq 1 && -f $DIR/port ]]; then
			port=$(cat "$DIR/port")
		fi
		port_in_use "$port" && continue
		write_conf "$port"
		if as_owner "$BINDIR/pg_ctl" start -D "$DATA" -l "$DIR/server.log" -w -t 60 >/dev/null 2>&1; then
			break
		fi
		if ! grep -q "could not bind\|could not create listen socket" "$DIR/server.log" 2>/dev/null; then
			tail -n 20 "$DIR/server.log" >&2 || true
			die "pg_ctl start failed"
		fi
		[[ $tries -eq 8 ]] && die "no free port found"
	done

	local psql=("$BINDIR/psql" -X -q -h 127.0.0.1 -p "$port" -U "$DB_ROLE" -d postgres -v ON_ERROR_STOP=1)
	if [[ -z $(as_owner "${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'") ]]; then
		as_owner "${psql[@]}" -c "CREATE DATABASE $DB_NAME" >/dev/null
	fi
	url
}

stop() {
	[[ -f $DATA/PG_VERSION ]] || return 0
	BINDIR=$(find_bindir)
	[[ -n $BINDIR ]] || die "pg_ctl not found"
	cd "$DIR"
	if running; then
		as_owner "$BINDIR/pg_ctl" stop -D "$DATA" -m fast -w -t 60 >/dev/null
	fi
}

[[ $# -eq 2 ]] || usage
if [[ $1 == stop && ! -d $2 ]]; then
	exit 0
fi
DIR=$(mkdir -p "$2" && cd "$2" && pwd)
DATA=$DIR/data
case $1 in
start) start ;;
stop) stop ;;
*) usage ;;
esac
