package localenv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresOptions configure a local PostgreSQL server.
type PostgresOptions struct {
	// Dir is the data folder; it is created (initdb) when empty. When the
	// server must run as the postgres OS user and that user cannot reach
	// Dir, a folder under the system temp dir is used instead.
	Dir string
	// Port to listen on (127.0.0.1 only); 0 picks a free one.
	Port int
	// Durable keeps fsync on. Tests turn it off for speed.
	Durable bool
	// Log receives the server's output; nil discards it.
	Log io.Writer
}

// Postgres is a running local server.
type Postgres struct {
	Dir  string
	Port int
	cmd  *exec.Cmd
	done chan struct{}
}

// StartPostgres initialises (when needed) and starts a PostgreSQL server,
// waiting until it accepts connections. The superuser is "postgres" with
// trust authentication on 127.0.0.1 only.
func StartPostgres(ctx context.Context, o PostgresOptions) (*Postgres, error) {
	su, err := unprivileged("postgres")
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data folder: %w", err)
	}
	if err := chownTree(dir, su); err != nil {
		return nil, fmt.Errorf("give data folder to postgres user: %w", err)
	}
	if !canTraverse(dir, su) {
		alt := filepath.Join(os.TempDir(), "authos-pg-"+strconv.FormatUint(uint64(hashString(dir)), 16))
		if err := os.MkdirAll(alt, 0o700); err != nil {
			return nil, err
		}
		if err := chownTree(alt, su); err != nil {
			return nil, err
		}
		dir = alt
	}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err != nil {
		if err := initdb(ctx, dir, su); err != nil {
			return nil, err
		}
	}
	// A stale pid file from a killed server blocks the start.
	_ = os.Remove(filepath.Join(dir, "postmaster.pid"))

	port := o.Port
	if port == 0 {
		if port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	bin, err := findBinary("postgres")
	if err != nil {
		return nil, err
	}
	args := []string{
		"-D", dir, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=",
		"-c", "max_connections=300",
		"-c", "shared_buffers=128MB",
	}
	if !o.Durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	cmd := command(su, bin, args...)
	out := o.Log
	if out == nil {
		out = io.Discard
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	p := &Postgres{Dir: dir, Port: port, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()

	waitCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := p.waitReady(waitCtx); err != nil {
		_ = p.Stop()
		return nil, err
	}
	return p, nil
}

func (p *Postgres) waitReady(ctx context.Context) error {
	if err := waitTCP(ctx, fmt.Sprintf("127.0.0.1:%d", p.Port), p.done); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	for {
		conn, err := pgx.Connect(ctx, p.URL("postgres"))
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("postgres not ready: %w", err)
		case <-p.done:
			return fmt.Errorf("postgres exited during start: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func initdb(ctx context.Context, dir string, su *serviceUser) error {
	bin, err := findBinary("initdb")
	if err != nil {
		return err
	}
	cmd := command(su, bin, "-D", dir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	cmd.Dir = os.TempDir()
	if err := cmd.Run(); err != nil {
		// Some images lack the C.UTF-8 locale; retry with the plain C locale.
		cmd = command(su, bin, "-D", dir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
		buf.Reset()
		cmd.Stdout, cmd.Stderr = &buf, &buf
		cmd.Dir = os.TempDir()
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("initdb: %w\n%s", err, buf.String())
		}
	}
	_ = ctx
	return nil
}

// URL returns a connection URL for database name.
func (p *Postgres) URL(name string) string {
	u := url.URL{Scheme: "postgres", User: url.User("postgres"), Host: fmt.Sprintf("127.0.0.1:%d", p.Port), Path: "/" + name, RawQuery: "sslmode=disable"}
	return u.String()
}

// EnsureDatabase creates database name when it does not exist.
func (p *Postgres) EnsureDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, p.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	return err
}

// Stop shuts the server down (fast shutdown) and waits for it.
func (p *Postgres) Stop() error {
	return stopProcess(p.cmd, p.done, syscall.SIGINT, 20*time.Second)
}

// Done is closed when the server process has exited.
func (p *Postgres) Done() <-chan struct{} { return p.done }

func hashString(s string) uint32 {
	var h uint32 = 2166136261
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}
