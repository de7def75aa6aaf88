package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Hard bounds. They keep a mistyped flag from turning into an unbounded run.
const (
	maxDuration    = 10 * time.Minute
	maxWarmup      = time.Minute
	maxRequests    = 10_000_000
	maxConcurrency = 10_000
	maxUsers       = 100_000
	maxRate        = 1_000_000
	requestTimeout = 10 * time.Second
	// maxErrorRate is the share of failed requests above which the run fails.
	maxErrorRate = 0.01
)

// Scenario names accepted by -scenario.
const (
	scenarioLogin             = "login"
	scenarioAuthenticatedRead = "authenticated-read"
	scenarioRefresh           = "refresh"
	scenarioServiceAPIRead    = "service-api-read"
)

// scenarioNames lists the valid -scenario values in the order shown in help.
func scenarioNames() []string {
	return []string{scenarioLogin, scenarioAuthenticatedRead, scenarioRefresh, scenarioServiceAPIRead}
}

// config is the validated command line.
type config struct {
	baseURL     *url.URL
	scenario    string
	concurrency int
	duration    time.Duration
	requests    int64 // measured requests; maxRequests when -n is not given
	rate        float64
	email       string
	password    string
	apiKey      string
	userID      string
	users       int
	warmup      time.Duration
	json        bool
}

// parseConfig parses and validates args. Every problem is reported at once.
// Usage and flag errors are written to stderr.
func parseConfig(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		baseURL = fs.String("base-url", "http://127.0.0.1:8080", "AuthOS API base URL; loopback hosts only (127.0.0.0/8, ::1, localhost)")
		cfg     config
	)
	fs.StringVar(&cfg.scenario, "scenario", "", "scenario: "+strings.Join(scenarioNames(), " | "))
	fs.IntVar(&cfg.concurrency, "c", 32, "concurrent workers (max 10000)")
	fs.DurationVar(&cfg.duration, "d", 10*time.Second, "measured duration (max 10m); with -n alone the run lasts until -n requests are done (or 10m)")
	fs.Int64Var(&cfg.requests, "n", 0, "measured request count (max 10000000); with -d the run ends at whichever comes first")
	fs.Float64Var(&cfg.rate, "rate", 0, "fixed arrival rate in req/s (open model, latency from the scheduled send time); 0 = closed loop at max throughput")
	fs.StringVar(&cfg.email, "email", "", "account email for login, authenticated-read and refresh")
	fs.StringVar(&cfg.password, "password", "", "account password for login, authenticated-read and refresh")
	fs.StringVar(&cfg.apiKey, "api-key", "", "service API key for service-api-read (sent as X-Api-Key)")
	fs.StringVar(&cfg.userID, "user-id", "", "user ID read by service-api-read")
	fs.IntVar(&cfg.users, "users", 0, "sessions logged in during setup for authenticated-read and refresh (default: -c)")
	fs.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "unmeasured warmup before the measured phase (max 1m)")
	fs.BoolVar(&cfg.json, "json", false, "print the summary as JSON")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["n"] && !set["d"] {
		cfg.duration = maxDuration
	}
	if cfg.requests == 0 {
		cfg.requests = maxRequests
	}
	if cfg.users == 0 && !set["users"] {
		cfg.users = cfg.concurrency
	}

	u, urlErr := checkLoopbackURL(*baseURL)
	cfg.baseURL = u
	needsLogin := cfg.scenario == scenarioLogin || cfg.scenario == scenarioAuthenticatedRead || cfg.scenario == scenarioRefresh
	checks := []struct {
		bad bool
		msg string
	}{
		{urlErr != nil, fmt.Sprint(urlErr)},
		{!validScenario(cfg.scenario), fmt.Sprintf("-scenario must be one of %s, got %q", strings.Join(scenarioNames(), ", "), cfg.scenario)},
		{cfg.concurrency < 1 || cfg.concurrency > maxConcurrency, fmt.Sprintf("-c must be between 1 and %d", maxConcurrency)},
		{cfg.duration <= 0 || cfg.duration > maxDuration, fmt.Sprintf("-d must be above 0 and at most %s", maxDuration)},
		{cfg.requests < 0 || cfg.requests > maxRequests, fmt.Sprintf("-n must be between 1 and %d", maxRequests)},
		{cfg.rate < 0 || cfg.rate > maxRate, fmt.Sprintf("-rate must be between 0 and %d", maxRate)},
		{cfg.warmup < 0 || cfg.warmup > maxWarmup, fmt.Sprintf("-warmup must be between 0 and %s", maxWarmup)},
		{cfg.users < 1 || cfg.users > maxUsers, fmt.Sprintf("-users must be between 1 and %d", maxUsers)},
		{needsLogin && (cfg.email == "" || cfg.password == ""), fmt.Sprintf("-email and -password are required for %s", cfg.scenario)},
		{cfg.scenario == scenarioServiceAPIRead && (cfg.apiKey == "" || cfg.userID == ""), "-api-key and -user-id are required for service-api-read"},
		{
			cfg.scenario == scenarioRefresh && cfg.users < cfg.concurrency,
			"-users must be at least -c for refresh: each worker owns its token chains, since a rotated refresh token is single use",
		},
	}
	var errs []error
	for _, c := range checks {
		if c.bad {
			errs = append(errs, errors.New(c.msg))
		}
	}
	if len(errs) > 0 {
		return config{}, fmt.Errorf("invalid flags: %w", errors.Join(errs...))
	}
	return cfg, nil
}

// validScenario reports whether name is a known scenario.
func validScenario(name string) bool {
	for _, s := range scenarioNames() {
		if s == name {
			return true
		}
	}
	return false
}

// checkLoopbackURL parses raw and refuses anything but an http(s) URL whose
// host is a loopback IP literal or "localhost". Other host names are refused
// without being resolved. The returned URL has no trailing slash.
func checkLoopbackURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("-base-url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("-base-url %q: scheme must be http or https", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("-base-url %q: must not have a query or fragment", raw)
	}
	if host := u.Hostname(); !isLoopbackHost(host) {
		return nil, fmt.Errorf("-base-url %q: host %q is not loopback (127.0.0.0/8, ::1 or localhost); loadtest never sends load to other machines", raw, host)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// isLoopbackHost reports whether host (no port) is "localhost" or a loopback
// IP literal, including IPv4-mapped IPv6 forms of 127.0.0.0/8.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	return addr.Unmap().IsLoopback()
}

// loopbackOnlyControl is a net.Dialer Control hook. It runs after name
// resolution, just before connect, and refuses any address that is not
// loopback: this catches "localhost" mapped elsewhere in /etc/hosts and any
// other path (proxies, redirects) to a remote host.
func loopbackOnlyControl(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dial %s: parse address: %w", address, err)
	}
	if !ap.Addr().Unmap().IsLoopback() {
		return fmt.Errorf("dial %s: refusing non-loopback address", address)
	}
	return nil
}
