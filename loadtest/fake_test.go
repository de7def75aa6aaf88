package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	fakeEmail    = "load@example.com"
	fakePassword = "correct horse battery staple"
	fakeAPIKey   = "ak_test_123"
	fakeUserID   = "3f0c5a0e-8d9b-4c55-9c1e-2f1e5f7a9b10"
)

// fakeOpts tunes the fake AuthOS server.
type fakeOpts struct {
	// failEvery makes every failEvery-th GET (/api/user, service users)
	// answer 500.
	failEvery int64
	// lostRefreshEvery makes every lostRefreshEvery-th successful refresh
	// rotate the token but answer 500, as if the response were lost.
	lostRefreshEvery int64
}

// fakeAuthOS implements the endpoints the load scenarios call, with the
// contract's token rules: refresh tokens are single use, and a token that is
// not live (reused or unknown) gets 401.
type fakeAuthOS struct {
	opts fakeOpts

	mu      sync.Mutex
	seq     int64
	access  map[string]bool
	refresh map[string]bool // live refresh tokens

	logins       atomic.Int64
	reads        atomic.Int64
	refreshes    atomic.Int64
	serviceReads atomic.Int64
	rejected     atomic.Int64 // refreshes refused because the token was not live
	gets         atomic.Int64
}

// newFakeAuthOS starts the fake on 127.0.0.1 and returns it with its URL.
func newFakeAuthOS(t *testing.T, opts fakeOpts) (*fakeAuthOS, string) {
	t.Helper()
	f := &fakeAuthOS{opts: opts, access: map[string]bool{}, refresh: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/auth/login", f.handleLogin)
	mux.HandleFunc("POST /api/auth/refresh", f.handleRefresh)
	mux.HandleFunc("GET /api/user", f.handleUser)
	mux.HandleFunc("GET /api/service/users/{user_id}", f.handleServiceUser)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

// issue creates a new live token pair.
func (f *fakeAuthOS) issue() tokenPair {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	tp := tokenPair{AccessToken: fmt.Sprintf("at-%d", f.seq), RefreshToken: fmt.Sprintf("rt-%d", f.seq)}
	f.access[tp.AccessToken] = true
	f.refresh[tp.RefreshToken] = true
	return tp
}

func writeTokens(w http.ResponseWriter, tp tokenPair) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": tp.AccessToken, "refresh_token": tp.RefreshToken, "expires_in": 86400,
	})
}

func (f *fakeAuthOS) handleLogin(w http.ResponseWriter, r *http.Request) {
	f.logins.Add(1)
	var in struct{ Email, Password string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	if in.Email != fakeEmail || in.Password != fakePassword {
		http.Error(w, `{"detail":"Invalid email or password"}`, http.StatusUnauthorized)
		return
	}
	writeTokens(w, f.issue())
}

func (f *fakeAuthOS) handleRefresh(w http.ResponseWriter, r *http.Request) {
	n := f.refreshes.Add(1)
	var in struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	live := f.refresh[in.RefreshToken]
	delete(f.refresh, in.RefreshToken)
	f.mu.Unlock()
	if !live {
		f.rejected.Add(1)
		http.Error(w, `{"detail":"Invalid refresh token"}`, http.StatusUnauthorized)
		return
	}
	tp := f.issue()
	if f.opts.lostRefreshEvery > 0 && n%f.opts.lostRefreshEvery == 0 {
		http.Error(w, "lost", http.StatusInternalServerError)
		return
	}
	writeTokens(w, tp)
}

// failing counts a GET and reports whether it must fail with 500.
func (f *fakeAuthOS) failing(w http.ResponseWriter) bool {
	n := f.gets.Add(1)
	if f.opts.failEvery > 0 && n%f.opts.failEvery == 0 {
		http.Error(w, "boom", http.StatusInternalServerError)
		return true
	}
	return false
}

func (f *fakeAuthOS) handleUser(w http.ResponseWriter, r *http.Request) {
	f.reads.Add(1)
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	valid := ok && f.access[token]
	f.mu.Unlock()
	if !valid {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if f.failing(w) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"id":"u1","email":"` + fakeEmail + `","permissions":[]}`))
}

func (f *fakeAuthOS) handleServiceUser(w http.ResponseWriter, r *http.Request) {
	f.serviceReads.Add(1)
	if r.Header.Get("X-Api-Key") != fakeAPIKey {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if r.PathValue("user_id") != fakeUserID {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if f.failing(w) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"id":"` + fakeUserID + `","email":"` + fakeEmail + `"}`))
}

// runJSON runs the tool in-process with -json and the fake's credentials
// appended, and returns the decoded summary and run's error.
func runJSON(ctx context.Context, t *testing.T, baseURL string, args ...string) (summary, error) {
	t.Helper()
	args = append([]string{
		"-base-url", baseURL, "-json",
		"-email", fakeEmail, "-password", fakePassword,
		"-api-key", fakeAPIKey, "-user-id", fakeUserID,
	}, args...)
	var stdout, stderr bytes.Buffer
	err := run(ctx, args, &stdout, &stderr)
	var sum summary
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &sum), "stdout: %s\nstderr: %s", stdout.String(), stderr.String())
	return sum, err
}

// requireOrderedLatency checks min <= p50 <= p95 <= p99 <= max and that
// there was a measurable latency at all.
func requireOrderedLatency(t *testing.T, l latencySummary) {
	t.Helper()
	require.Positive(t, l.Max)
	require.LessOrEqual(t, l.Min, l.P50)
	require.LessOrEqual(t, l.P50, l.P95)
	require.LessOrEqual(t, l.P95, l.P99)
	require.LessOrEqual(t, l.P99, l.Max)
	require.LessOrEqual(t, l.Mean, l.Max)
}
