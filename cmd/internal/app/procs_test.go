package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authos/authos/platform/localenv"
)

// binaries are built once per test process, without -race, from this tree.
type binaries struct {
	once sync.Once
	dir  string
	err  error
}

var built binaries //nolint:gochecknoglobals // build once per test binary

func binary(t *testing.T, name string) string {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "authos-e2e-bin-")
		if built.err != nil {
			return
		}
		root, err := filepath.Abs("../../..")
		if err != nil {
			built.err = err
			return
		}
		cmd := exec.Command("go", "build", "-o", built.dir+"/", "./cmd/api", "./cmd/worker", "./cmd/authos")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	require.NoError(t, built.err)
	return filepath.Join(built.dir, name)
}

// proc is a started AuthOS process with captured output.
type proc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startProc runs bin with exactly env (plus PATH/HOME) and stops it at cleanup.
func startProc(t *testing.T, bin string, env map[string]string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &proc{cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	require.NoError(t, cmd.Start())
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(bin), p.out.String())
		}
	})
	return p
}

// exitCode waits for the process to exit by itself.
func (p *proc) exitCode(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(within):
		t.Fatalf("process still running after %s; output:\n%s", within, p.out.String())
		return -1
	}
}

// waitStatus polls url until it answers want.
func waitStatus(t *testing.T, url string, want int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				cancel()
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		cancel()
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not answer %d within %s (last: %s)", url, want, within, last)
}

func freePort(t *testing.T) string {
	t.Helper()
	p, err := localenv.FreePort()
	require.NoError(t, err)
	return fmt.Sprint(p)
}

// baseEnv is a valid test configuration for the processes.
func baseEnv(t *testing.T, dbURL, redisURL string) map[string]string {
	t.Helper()
	return map[string]string{
		"AUTHOS_ENV":   "test",
		"LOG_FORMAT":   "json",
		"LOG_LEVEL":    "info",
		"DATABASE_URL": dbURL,
		"REDIS_URL":    redisURL,
		"PORT":         freePort(t),
		"WORKER_PORT":  freePort(t),
		"SERVER_HOST":  "127.0.0.1",
	}
}

func splitHostPort(t *testing.T, addr string) (string, string) {
	t.Helper()
	i := strings.LastIndex(addr, ":")
	require.Positive(t, i)
	return addr[:i], addr[i+1:]
}

func base64URLDecode(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
