package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/authos/authos/platform/localenv"
)

// ensureRedisInstalled installs redis-server with apt-get when it is missing
// and we are allowed to (root, apt-get present, AUTHOS_NO_INSTALL unset);
// otherwise it explains how to get it.
func ensureRedisInstalled(ctx context.Context, getenv Env, out io.Writer) error {
	if _, err := localenv.RedisBinary(); err == nil {
		return nil
	}
	if err := aptInstall(ctx, getenv, out, "redis-server"); err != nil {
		return fmt.Errorf("%w (or set REDIS_URL to an existing Redis)", err)
	}
	_, err := localenv.RedisBinary()
	return err
}

// ensureChromiumInstalled installs Debian's chromium for the browser tests
// when it is missing, like ensureRedisInstalled: once, before the test
// packages run in parallel.
func ensureChromiumInstalled(ctx context.Context, getenv Env, out io.Writer) error {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if _, err := exec.LookPath(name); err == nil {
			return nil
		}
	}
	return aptInstall(ctx, getenv, out, "chromium")
}

// aptInstall installs a Debian package when allowed (root, apt-get
// present, AUTHOS_NO_INSTALL unset).
func aptInstall(ctx context.Context, getenv Env, out io.Writer, pkg string) error {
	apt, aptErr := exec.LookPath("apt-get")
	if os.Geteuid() != 0 || aptErr != nil || getenv("AUTHOS_NO_INSTALL") != "" {
		return fmt.Errorf("%s is not installed: run `sudo apt-get install %s`", pkg, pkg)
	}
	fmt.Fprintf(out, "%s is missing: installing it with apt-get ...\n", pkg)
	for _, args := range [][]string{{"-o", "DPkg::Lock::Timeout=300", "update", "-qq"},
		{"-o", "DPkg::Lock::Timeout=300", "install", "-y", "-qq", "--no-install-recommends", pkg}} {
		cmd := exec.CommandContext(ctx, apt, args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("install %s with apt-get: %w", pkg, err)
		}
	}
	return nil
}

// localServices are the servers a dev or test run started itself.
type localServices struct {
	pg    *localenv.Postgres
	redis *localenv.Redis
}

func (s *localServices) stop() {
	if s.redis != nil {
		_ = s.redis.Stop()
	}
	if s.pg != nil {
		_ = s.pg.Stop()
	}
}

// startLocalServices starts PostgreSQL and Redis under dataDir unless
// databaseURL/redisURL already name existing servers. durable keeps fsync on
// (dev data survives crashes; test data is throwaway).
func startLocalServices(ctx context.Context, getenv Env, databaseURL, redisURL, dataDir string, durable bool, out io.Writer) (s *localServices, _, _ string, err error) {
	s = &localServices{}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
	if databaseURL == "" {
		logFile, lerr := os.OpenFile(filepath.Join(dataDir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if lerr != nil {
			return s, "", "", lerr
		}
		s.pg, err = localenv.StartPostgres(ctx, localenv.PostgresOptions{Dir: filepath.Join(dataDir, "postgres"), Durable: durable, Log: logFile})
		if err != nil {
			return s, "", "", fmt.Errorf("start PostgreSQL (or set DATABASE_URL): %w", err)
		}
		if err = s.pg.EnsureDatabase(ctx, "authos"); err != nil {
			return s, "", "", fmt.Errorf("create database: %w", err)
		}
		databaseURL = s.pg.URL("authos")
	}
	if redisURL == "" {
		if err = ensureRedisInstalled(ctx, getenv, out); err != nil {
			return s, "", "", err
		}
		redisDir := ""
		if durable {
			redisDir = filepath.Join(dataDir, "redis")
		}
		s.redis, err = localenv.StartRedis(ctx, localenv.RedisOptions{Dir: redisDir})
		if err != nil {
			return s, "", "", fmt.Errorf("start redis-server (or set REDIS_URL): %w", err)
		}
		redisURL = s.redis.URL()
	}
	return s, databaseURL, redisURL, nil
}
