package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// errInvalidBody marks a 2xx response whose body is not what the contract
// promises (not JSON, or tokens missing). It counts as a failed request.
var errInvalidBody = errors.New("invalid response body")

// statusError is a non-2xx response seen outside the measured phase (setup
// logins and re-logins), with the start of its body for the error message.
type statusError struct {
	method, path string
	status       int
	body         string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: status %d: %s", e.method, e.path, e.status, e.body)
}

// tokenPair is the body returned by login and refresh.
type tokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// newHTTPClient returns the client shared by every worker: one transport with
// keep-alives, enough idle connections per host for every worker, no proxy,
// no redirects followed, 10 s timeouts, and a dial hook that refuses
// non-loopback addresses.
func newHTTPClient(concurrency int) *http.Client {
	dialer := &net.Dialer{
		Timeout:   requestTimeout,
		KeepAlive: 30 * time.Second,
		Control:   loopbackOnlyControl,
	}
	transport := &http.Transport{
		Proxy:                 nil, // never route load through a proxy from the environment
		DialContext:           dialer.DialContext,
		MaxIdleConns:          concurrency + 16,
		MaxIdleConnsPerHost:   concurrency + 16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   requestTimeout,
		ResponseHeaderTimeout: requestTimeout,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport: transport,
		Timeout:   requestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a redirect is a failed request, never followed
		},
	}
}

// apiClient sends the AuthOS requests the scenarios need.
type apiClient struct {
	http    *http.Client
	baseURL string // no trailing slash
}

// send performs one request and returns its status. For a 2xx response with
// out set, the JSON body is decoded into out (errInvalidBody when that fails).
// For a non-2xx response the first bytes of the body are returned as errBody.
// The body is always drained so the connection is reused.
func (c *apiClient) send(ctx context.Context, method, path string, body []byte, header http.Header, out any) (status int, errBody string, err error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.baseURL+path, rd)
	if err != nil {
		return 0, "", fmt.Errorf("build request: %w", err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		_ = resp.Body.Close()
	}()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return resp.StatusCode, strings.TrimSpace(string(b)), nil
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, "", fmt.Errorf("%s %s: decode: %w: %w", method, path, errInvalidBody, err)
		}
	}
	return resp.StatusCode, "", nil
}

// login logs in with email and password and returns both tokens. Used by
// setup and re-logins, so any failure is an error, including a response
// without a refresh token (an account with MFA enabled gets a pre-auth token).
func (c *apiClient) login(ctx context.Context, loginBody []byte) (tokenPair, error) {
	const path = "/api/auth/login"
	var tp tokenPair
	status, errBody, err := c.send(ctx, http.MethodPost, path, loginBody, nil, &tp)
	switch {
	case err != nil:
		return tokenPair{}, err
	case status != http.StatusOK:
		return tokenPair{}, &statusError{method: http.MethodPost, path: path, status: status, body: errBody}
	case tp.AccessToken == "" || tp.RefreshToken == "":
		return tokenPair{}, fmt.Errorf("POST %s: %w: no access or refresh token (is MFA enabled on the account?)", path, errInvalidBody)
	}
	return tp, nil
}
