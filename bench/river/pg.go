package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// urlEnv names the environment variable with the server's URL.
const urlEnv = "RELAYHOOK_PG_URL"

// poolConns is the size of each contender's connection pool, as pgstore's
// own benchmarks use.
const poolConns = 32

// startServer starts a throwaway server with the repository's
// scripts/postgres.sh and returns its URL and a function that stops it and
// removes its directory.
func startServer() (string, func(), error) {
	script, err := findScript()
	if err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp("", "relayhook-bench-pg-")
	if err != nil {
		return "", nil, err
	}
	stop := func() {
		_ = exec.Command("bash", script, "stop", dir).Run()
		_ = os.RemoveAll(dir)
	}
	cmd := exec.Command("bash", script, "start", dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("%s start: %w", script, err)
	}
	return strings.TrimSpace(string(out)), stop, nil
}

// findScript looks for scripts/postgres.sh in the working directory and
// its parents.
func findScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "scripts", "postgres.sh")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("scripts/postgres.sh not found in this directory or its parents (run from the repository)")
		}
		dir = parent
	}
}

// newPool opens a pool of poolConns connections.
func newPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = poolConns
	cfg.ConnConfig.Tracer = tripCounter{}
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := p.Ping(pctx); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// recreateSchema drops the schema with everything in it and creates it
// empty.
func recreateSchema(ctx context.Context, p *pgxpool.Pool, schema string) error {
	if err := dropSchema(ctx, p, schema); err != nil {
		return err
	}
	_, err := p.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
	return err
}

func dropSchema(ctx context.Context, p *pgxpool.Pool, schema string) error {
	_, err := p.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	return err
}

// vacuum runs VACUUM (ANALYZE) on the whole database: every table the
// user may vacuum, none named.
func vacuum(ctx context.Context, p *pgxpool.Pool) error {
	_, err := p.Exec(ctx, "VACUUM (ANALYZE)")
	return err
}

// settingNames are the server settings the table reports.
var settingNames = []string{"fsync", "synchronous_commit", "full_page_writes", "wal_level",
	"shared_buffers", "max_connections", "work_mem", "max_wal_size", "autovacuum"}

// serverInfo returns the server's version and settings, one "name=value"
// each, and its postmaster's PID when the server runs on this machine
// and this process can read its data directory (else 0).
func serverInfo(ctx context.Context, p *pgxpool.Pool) (version string, settings []string, postmaster int, err error) {
	if err := p.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		return "", nil, 0, err
	}
	for _, name := range settingNames {
		var v string
		if err := p.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v); err != nil {
			return "", nil, 0, err
		}
		settings = append(settings, name+"="+v)
	}
	var dataDir string
	if p.QueryRow(ctx, "SELECT current_setting('data_directory')").Scan(&dataDir) == nil {
		if b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid")); err == nil {
			line, _, _ := strings.Cut(string(b), "\n")
			postmaster, _ = strconv.Atoi(strings.TrimSpace(line))
		}
	}
	return version, settings, postmaster, nil
}
