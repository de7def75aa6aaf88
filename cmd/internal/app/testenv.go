package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

// WithServices starts throwaway PostgreSQL and Redis servers (unless
// TEST_DATABASE_URL / TEST_REDIS_URL name existing ones), runs argv with
// those variables set, stops the servers and returns argv's exit status.
// `go tool task test` runs `go test` through it so every test package shares
// one pair of servers.
func WithServices(ctx context.Context, getenv Env, argv []string, stdout, stderr io.Writer) error {
	if len(argv) == 0 {
		return errors.New("usage: authos with-services -- command [args...]")
	}
	dataDir, err := os.MkdirTemp("", "authos-test-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dataDir)
	if err := os.Chmod(dataDir, 0o755); err != nil {
		return err
	}
	svc, dbURL, redisURL, err := startLocalServices(ctx, getenv, getenv("TEST_DATABASE_URL"), getenv("TEST_REDIS_URL"), dataDir, false, stderr)
	if err != nil {
		return err
	}
	defer svc.stop()
	fmt.Fprintf(stderr, "with-services: PostgreSQL %s, Redis %s\n", redact(dbURL), redisURL)
	// The browser tests drive Debian's chromium: install it once here
	// rather than from several test packages at the same time.
	if err := ensureChromiumInstalled(ctx, getenv, stderr); err != nil {
		fmt.Fprintf(stderr, "with-services: chromium unavailable, the browser tests will fail: %v\n", err)
	}

	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "TEST_DATABASE_URL="+dbURL, "TEST_REDIS_URL="+redisURL)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	// Forward Ctrl-C / SIGTERM to the child and still stop the servers.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return &ExitError{Code: exit.ExitCode(), Err: fmt.Errorf("%s exited with status %d", argv[0], exit.ExitCode())}
	}
	return err
}
