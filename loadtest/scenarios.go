package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
)

// scenario is one kind of load: an unmeasured setup, then one request sent
// over and over by every worker.
type scenario interface {
	// setup runs once before warmup and is not measured.
	setup(ctx context.Context) error
	// do sends one request on behalf of worker w (0 <= w < concurrency).
	// Calls for the same w never overlap; calls for different w do.
	do(ctx context.Context, w int) result
}

// result is the outcome of one request.
type result struct {
	// failure is empty for a 2xx response with a valid body; otherwise it is
	// the status code ("401") or "transport" / "invalid_body".
	failure string
	// detail describes a transport or body failure (the error text), for
	// the summary's sample error.
	detail string
	// cancelled is set when the request was cut short by the run being
	// stopped (Ctrl-C); such requests are not counted at all.
	cancelled bool
	// repair, when set, is run after the request's latency is recorded, to
	// restore worker state broken by the failure (a re-login). It is not
	// measured.
	repair func(ctx context.Context) error
}

// outcome classifies the return values of apiClient.send.
func outcome(ctx context.Context, status int, err error) result {
	switch {
	case err != nil && ctx.Err() != nil:
		return result{cancelled: true}
	case errors.Is(err, errInvalidBody):
		return result{failure: "invalid_body", detail: err.Error()}
	case err != nil:
		return result{failure: "transport", detail: err.Error()}
	case status < 200 || status > 299:
		return result{failure: strconv.Itoa(status)}
	default:
		return result{}
	}
}

// newScenario builds the scenario named in cfg.
func newScenario(cfg config, api *apiClient) (scenario, error) {
	loginBody, err := json.Marshal(struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}{cfg.email, cfg.password})
	if err != nil {
		return nil, fmt.Errorf("encode login body: %w", err)
	}
	part := newPartition(cfg.users, cfg.concurrency)
	switch cfg.scenario {
	case scenarioLogin:
		return &loginScenario{api: api, body: loginBody}, nil
	case scenarioAuthenticatedRead:
		return &readScenario{api: api, loginBody: loginBody, users: cfg.users, concurrency: cfg.concurrency, part: part}, nil
	case scenarioRefresh:
		return &refreshScenario{api: api, loginBody: loginBody, users: cfg.users, concurrency: cfg.concurrency, part: part}, nil
	case scenarioServiceAPIRead:
		return &serviceReadScenario{
			api:    api,
			path:   "/api/service/users/" + url.PathEscape(cfg.userID),
			header: http.Header{"X-Api-Key": {cfg.apiKey}},
		}, nil
	default:
		return nil, fmt.Errorf("unknown scenario %q", cfg.scenario)
	}
}

// loginScenario measures POST /api/auth/login with one account's
// credentials (password hashing dominates it).
type loginScenario struct {
	api  *apiClient
	body []byte
}

func (s *loginScenario) setup(context.Context) error { return nil }

func (s *loginScenario) do(ctx context.Context, _ int) result {
	var tp tokenPair
	status, _, err := s.api.send(ctx, http.MethodPost, "/api/auth/login", s.body, nil, &tp)
	res := outcome(ctx, status, err)
	if res.failure == "" && !res.cancelled && tp.AccessToken == "" {
		res.failure = "invalid_body"
	}
	return res
}

// readScenario measures GET /api/user with access tokens obtained in setup.
type readScenario struct {
	api         *apiClient
	loginBody   []byte
	users       int
	concurrency int
	part        *partition
	headers     []http.Header // one Authorization header per session
}

func (s *readScenario) setup(ctx context.Context) error {
	sessions, err := loginSessions(ctx, s.api, s.loginBody, s.users, s.concurrency)
	if err != nil {
		return err
	}
	s.headers = make([]http.Header, len(sessions))
	for i, tp := range sessions {
		s.headers[i] = http.Header{"Authorization": {"Bearer " + tp.AccessToken}}
	}
	return nil
}

func (s *readScenario) do(ctx context.Context, w int) result {
	status, _, err := s.api.send(ctx, http.MethodGet, "/api/user", nil, s.headers[s.part.pick(w)], nil)
	return outcome(ctx, status, err)
}

// refreshScenario measures POST /api/auth/refresh. Each session is a token
// chain owned by exactly one worker: every iteration presents the latest
// refresh token of the chain and keeps the rotated one. After a failed
// refresh the chain may be dead, so the session logs in again (unmeasured).
type refreshScenario struct {
	api         *apiClient
	loginBody   []byte
	users       int
	concurrency int
	part        *partition
	sessions    []tokenPair // sessions[i] is only touched by the worker owning i
}

func (s *refreshScenario) setup(ctx context.Context) error {
	sessions, err := loginSessions(ctx, s.api, s.loginBody, s.users, s.concurrency)
	if err != nil {
		return err
	}
	s.sessions = sessions
	return nil
}

func (s *refreshScenario) do(ctx context.Context, w int) result {
	i := s.part.pick(w)
	body, err := json.Marshal(struct {
		RefreshToken string `json:"refresh_token"`
	}{s.sessions[i].RefreshToken})
	if err != nil {
		return result{failure: "invalid_body"}
	}
	var tp tokenPair
	status, _, err := s.api.send(ctx, http.MethodPost, "/api/auth/refresh", body, nil, &tp)
	res := outcome(ctx, status, err)
	if res.cancelled {
		return res
	}
	if res.failure == "" && tp.RefreshToken == "" {
		res.failure = "invalid_body"
	}
	if res.failure != "" {
		res.repair = func(ctx context.Context) error {
			fresh, err := s.api.login(ctx, s.loginBody)
			if err != nil {
				return fmt.Errorf("re-login session %d: %w", i, err)
			}
			s.sessions[i] = fresh
			return nil
		}
		return res
	}
	s.sessions[i] = tp
	return res
}

// serviceReadScenario measures GET /api/service/users/{user_id} with an API
// key; there is no setup.
type serviceReadScenario struct {
	api    *apiClient
	path   string
	header http.Header
}

func (s *serviceReadScenario) setup(context.Context) error { return nil }

func (s *serviceReadScenario) do(ctx context.Context, _ int) result {
	status, _, err := s.api.send(ctx, http.MethodGet, s.path, nil, s.header, nil)
	return outcome(ctx, status, err)
}

// loginSessions logs in n sessions, at most parallel at a time, and fails on
// the first refused login.
func loginSessions(ctx context.Context, api *apiClient, loginBody []byte, n, parallel int) ([]tokenPair, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sessions := make([]tokenPair, n)
	next := make(chan int)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for range min(parallel, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				tp, err := api.login(ctx, loginBody)
				if err != nil {
					errOnce.Do(func() {
						firstErr = fmt.Errorf("log in session %d: %w", i, err)
						cancel()
					})
					continue
				}
				sessions[i] = tp
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("log in sessions: %w", err)
	}
	return sessions, nil
}

// partition assigns sessions to workers. With at least as many sessions as
// workers, worker w owns sessions w, w+workers, w+2*workers, ... and cycles
// through them, so no session is ever used by two workers (required for
// refresh chains). With fewer sessions, worker w shares session w%users.
type partition struct {
	users, workers int
	next           []int // per-worker cursor, only touched by that worker
}

// newPartition returns a partition of users sessions over workers workers.
func newPartition(users, workers int) *partition {
	return &partition{users: users, workers: workers, next: make([]int, workers)}
}

// pick returns the session worker w uses for its next request.
func (p *partition) pick(w int) int {
	if p.users < p.workers {
		return w % p.users
	}
	owned := (p.users - w + p.workers - 1) / p.workers
	i := w + (p.next[w]%owned)*p.workers
	p.next[w]++
	return i
}
