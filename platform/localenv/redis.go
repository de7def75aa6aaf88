package localenv

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// RedisOptions configure a local Redis server.
type RedisOptions struct {
	// Dir holds the server's working files; empty means no persistence at all.
	Dir string
	// Port on 127.0.0.1; 0 picks a free one.
	Port int
	// Log receives the server's output; nil discards it.
	Log io.Writer
}

// Redis is a running local redis-server.
type Redis struct {
	Port int
	cmd  *exec.Cmd
	done chan struct{}
}

// RedisBinary finds redis-server, or explains how to get it.
func RedisBinary() (string, error) {
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/bin/redis-server", "/usr/local/bin/redis-server"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("redis-server not found: install it (apt-get install redis-server) or set REDIS_URL to an existing server")
}

// StartRedis starts redis-server on 127.0.0.1 and waits until it answers.
func StartRedis(ctx context.Context, o RedisOptions) (*Redis, error) {
	bin, err := RedisBinary()
	if err != nil {
		return nil, err
	}
	port := o.Port
	if port == 0 {
		if port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--protected-mode", "yes", "--daemonize", "no"}
	if o.Dir == "" {
		args = append(args, "--save", "", "--appendonly", "no")
	} else {
		dir, err := filepath.Abs(o.Dir)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		args = append(args, "--dir", dir, "--appendonly", "yes")
	}
	cmd := command(nil, bin, args...)
	out := o.Log
	if out == nil {
		out = io.Discard
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	r := &Redis{Port: port, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(r.done) }()
	waitCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := waitTCP(waitCtx, fmt.Sprintf("127.0.0.1:%d", port), r.done); err != nil {
		_ = r.Stop()
		return nil, fmt.Errorf("redis: %w", err)
	}
	return r, nil
}

// URL returns the server's redis:// URL.
func (r *Redis) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.Port) }

// Stop shuts the server down.
func (r *Redis) Stop() error { return stopProcess(r.cmd, r.done, syscall.SIGTERM, 10*time.Second) }

// Done is closed when the server has exited.
func (r *Redis) Done() <-chan struct{} { return r.done }
