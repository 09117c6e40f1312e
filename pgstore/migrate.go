package pgstore

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one versioned step of the schema, from a file named
// NNNN_name.sql.
type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("pgstore: migration file %q is not named NNNN_name.sql", e.Name())
		}
		b, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// SchemaVersion is the version of the newest migration this package
// applies.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// Migrate creates the schema (unless it exists) and applies the migrations
// it lacks, in one transaction: either all apply or none. It is idempotent, and safe to call
// from every replica at start-up: a transaction-scoped advisory lock keyed
// by the schema makes concurrent calls take turns, and the later ones find
// nothing to do.
func (s *Store) Migrate(ctx context.Context) error {
	return s.migrateTo(ctx, 0)
}

// migrateTo is Migrate up to the version upTo (0: the newest).
func (s *Store) migrateTo(ctx context.Context, upTo int) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	schema := pgx.Identifier{s.schema}.Sanitize()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return dbError("migrate", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit

	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLockKey(s.schema)); err != nil {
		return dbError("migrate: lock", err)
	}
	// A schema the host created beforehand needs no CREATE privilege on
	// the database, which CREATE SCHEMA IF NOT EXISTS asks for anyway.
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", s.schema).Scan(&exists); err != nil {
		return dbError("migrate", err)
	}
	if !exists {
		if _, err := tx.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
			return dbError("migrate: create schema", err)
		}
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+schema+`.schema_migrations (
  version    integer     PRIMARY KEY,
  name       text        NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`); err != nil {
		return dbError("migrate: create schema_migrations", err)
	}
	applied := map[int]bool{}
	rows, err := tx.Query(ctx, "SELECT version FROM "+schema+".schema_migrations")
	if err != nil {
		return dbError("migrate", err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return dbError("migrate", err)
		}
		applied[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return dbError("migrate", err)
	}
	for _, m := range ms {
		if applied[m.version] || (upTo > 0 && m.version > upTo) {
			continue
		}
		sql := strings.ReplaceAll(m.sql, "{{schema}}", schema)
		// Simple protocol: a migration is several statements.
		if _, err := tx.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol); err != nil {
			return dbError(fmt.Sprintf("migrate: %04d_%s", m.version, m.name), err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO "+schema+".schema_migrations (version, name) VALUES ($1, $2)",
			m.version, m.name); err != nil {
			return dbError("migrate", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return dbError("migrate: commit", err)
	}
	return nil
}

// migrationLockKey is the advisory lock that serializes Migrate calls on
// one schema.
func migrationLockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("relayhook/pgstore/migrate\x00" + schema))
	return int64(h.Sum64())
}
