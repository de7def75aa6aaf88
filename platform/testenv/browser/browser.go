// Package browser gives Go tests a real headless Chromium, driven with
// chromedp, for the hosted pages' end-to-end tests.
//
// It uses Debian's chromium package. When the binary is missing and the
// test runs as root with apt-get available (CI and the dev machines), it
// installs it with apt-get, the same way `authos dev` installs
// redis-server. When no browser can be had the test fails with a message
// saying how to get one: browser tests never skip.
//
// Each test gets its own browser process with a throwaway profile, so
// cookies and storage never leak between tests, and a deadline, so a page
// that never loads fails the test instead of hanging the suite.
package browser

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// DefaultTimeout bounds everything one test does with its browser when
// Options.Timeout is zero.
const DefaultTimeout = 90 * time.Second

// installMu serialises apt-get runs of parallel tests in one test binary
// (apt-get holds a lock and fails for a second caller). Other test binaries
// are handled by apt's lock timeout.
var installMu sync.Mutex //nolint:gochecknoglobals // guards a machine-wide side effect, holds no data

const howTo = "browser tests need Chromium: install it with `apt-get install -y chromium` (the tests do this themselves when run as root with apt-get available and AUTHOS_NO_INSTALL unset)"

// Binary returns the path of the chromium binary, or an error saying how to
// install it.
func Binary() (string, error) {
	// The names Debian and other distributions give the binary.
	for _, name := range []string{"chromium", "chromium-browser", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("chromium not found (looked for chromium, chromium-browser and /usr/bin/chromium)")
}

// Ensure returns the chromium binary, installing Debian's chromium package
// with apt-get first when it is missing and this process may install
// packages: it runs as root, apt-get exists and AUTHOS_NO_INSTALL is unset.
// It tries the install straight away and, if that fails (stale or missing
// package lists), runs apt-get update and tries once more. apt-get's
// output goes to out.
func Ensure(ctx context.Context, out io.Writer) (string, error) {
	if p, err := Binary(); err == nil {
		return p, nil
	}
	installMu.Lock()
	defer installMu.Unlock()
	if p, err := Binary(); err == nil { // a parallel test installed it meanwhile
		return p, nil
	}
	apt, aptErr := exec.LookPath("apt-get")
	if os.Geteuid() != 0 || aptErr != nil || os.Getenv("AUTHOS_NO_INSTALL") != "" {
		return "", errors.New("chromium is not installed and this process may not install it (needs root, apt-get and AUTHOS_NO_INSTALL unset)")
	}
	install := []string{"-o", "DPkg::Lock::Timeout=300", "install", "-y", "-qq", "--no-install-recommends", "chromium"}
	if err := aptGet(ctx, apt, out, install...); err != nil {
		fmt.Fprintf(out, "apt-get install chromium failed (%v): running apt-get update and trying again\n", err)
		if err := aptGet(ctx, apt, out, "-o", "DPkg::Lock::Timeout=300", "update", "-qq"); err != nil {
			return "", fmt.Errorf("apt-get update: %w", err)
		}
		if err := aptGet(ctx, apt, out, install...); err != nil {
			return "", fmt.Errorf("apt-get install chromium: %w", err)
		}
	}
	p, err := Binary()
	if err != nil {
		return "", fmt.Errorf("after installing the chromium package: %w", err)
	}
	return p, nil
}

func aptGet(ctx context.Context, apt string, out io.Writer, args ...string) error {
	cmd := exec.CommandContext(ctx, apt, args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	cmd.Stdout, cmd.Stderr = out, out
	return cmd.Run()
}

// Options configure one test's browser.
type Options struct {
	// Timeout bounds everything the test does with the browser, from
	// start-up on; zero means DefaultTimeout.
	Timeout time.Duration
	// Flags are extra command-line flags (name → value; true for a bare
	// switch, false to drop a default one).
	Flags map[string]any
}

// Chrome starts a headless Chromium for this test and returns a chromedp
// context on a blank tab, with DefaultTimeout as its deadline. See New.
func Chrome(tb testing.TB) context.Context {
	tb.Helper()
	return New(tb, Options{})
}

// New starts a headless Chromium for this test and returns a chromedp
// context on a blank tab. The browser runs with a temporary user-data-dir
// (removed afterwards), --disable-gpu, and --no-sandbox when the test runs
// as root (Chromium refuses to start as root otherwise). The context's
// deadline is the test's browser timeout; the browser is closed when the
// test ends. It fails the test, never skips it, when Chromium cannot be
// found or installed or does not start.
func New(tb testing.TB, o Options) context.Context {
	tb.Helper()
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancelTimeout := context.WithTimeout(context.Background(), timeout)

	installCtx, cancelInstall := context.WithTimeout(ctx, 10*time.Minute)
	bin, err := Ensure(installCtx, testWriter{tb})
	cancelInstall()
	if err != nil {
		cancelTimeout()
		tb.Fatalf("browser: %v\n%s", err, howTo)
	}

	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(bin),
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	for name, v := range o.Flags {
		opts = append(opts, chromedp.Flag(name, v))
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)

	// chromedp reports protocol errors asynchronously; route them to the
	// test log only while the test can still log.
	lg := &testLog{tb: tb}
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithErrorf(lg.logf))
	tb.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancelTimeout()
		lg.stop()
	})
	// Start the browser and open the tab now, so a broken install fails
	// here with a clear message rather than at the test's first action.
	if err := chromedp.Do(browserCtx); err != nil {
		tb.Fatalf("browser: start %s: %v\n%s", bin, err, howTo)
	}
	return browserCtx
}

// testWriter sends apt-get's output to the test log.
type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.tb.Logf("%s", p)
	return len(p), nil
}

// testLog forwards chromedp's error messages to t.Logf until the test's
// cleanup, after which logging on a testing.TB would panic.
type testLog struct {
	mu   sync.Mutex
	tb   testing.TB
	done bool
}

func (l *testLog) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.tb.Logf("chromedp: "+format, args...)
	}
}

func (l *testLog) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done = true
}
