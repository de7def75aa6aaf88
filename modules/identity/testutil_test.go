package identity_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/jobs"
	"github.com/authos/authos/modules/compliance"
	"github.com/authos/authos/modules/identity"
	"github.com/authos/authos/modules/identity/internal/token"
	"github.com/authos/authos/platform/config"
	"github.com/authos/authos/platform/crypto"
	"github.com/authos/authos/platform/events"
	"github.com/authos/authos/platform/httpapi"
	"github.com/authos/authos/platform/testenv"
)

const (
	testBaseURL      = "http://auth.identity.test"
	testDashboardURL = "http://dashboard.identity.test"
	// goodPassword passes the password policy.
	goodPassword = "correct-horse-battery-staple"
	// otherPassword passes the password policy too.
	otherPassword = "another-long-passphrase-42"

	msgRegistered     = "Registration successful. Please check your email to verify your account."
	msgInvalidLogin   = "Invalid email or password"
	msgVerifyFirst    = "Please verify your email address before logging in"
	msgLocked         = "Too many failed login attempts. Please try again later."
	msgInvalidRefresh = "Invalid refresh token"
	msgSessionRevoked = "Session revoked or expired"
	msgResetSent      = "If an account with that email exists, a password reset link has been sent."
	msgResendSent     = "If an account with that email exists and is not verified, a verification link has been sent."
	msgResetDone      = "Password has been reset successfully. Please log in with your new password."
)

// fakeClock is the module's NowFunc; tests advance it to expire tokens.
// It starts at the real time so that Redis TTLs derived from it stay sane.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now().UTC().Truncate(time.Second)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// eventLog is a Recorder decorator: it delegates to the compliance recorder
// (which validates every event against the catalogue) and keeps every event
// it accepted, since events of platform users write no audit row. An event
// is kept even if the caller's transaction later rolls back.
type eventLog struct {
	next events.Recorder
	mu   sync.Mutex
	list []events.Event
}

func (l *eventLog) Record(ctx context.Context, tx pgx.Tx, e events.Event) error {
	if err := l.next.Record(ctx, tx, e); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list = append(l.list, e)
	return nil
}

// ofType returns the recorded events of type typ, oldest first.
func (l *eventLog) ofType(typ string) []events.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []events.Event
	for _, e := range l.list {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// lockedBuffer collects the modules' logs; they are printed when a test fails.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testBundle holds one test's real dependencies and the default app built
// on them (its methods are promoted). More apps, e.g. with other Argon2
// parameters or owner settings, share the dependencies through newApp.
type testBundle struct {
	*app
	pool       *pgxpool.Pool
	rdb        *goredis.Client
	prefix     string
	ring       *crypto.KeyRing
	queue      *jobs.Client
	compliance *compliance.Module
	events     *eventLog
	clock      *fakeClock
	logs       *lockedBuffer
}

// app is one identity module served by a real router, the way the API
// process builds it.
type app struct {
	b   *testBundle
	mod *identity.Module
	cfg identity.Config
	url string
}

// setup builds a fresh database, a Redis key namespace, the module with
// fast password hashing and a fake clock, and serves it. configure adjusts
// the identity config of the default app.
func setup(t *testing.T, configure ...func(*identity.Config)) *testBundle {
	t.Helper()
	pool := testenv.Postgres(t)
	ring, err := crypto.ParseKeyRing("k1", config.DevelopmentEncryptionKey, "")
	require.NoError(t, err)
	queue, err := jobs.NewInsertOnlyClient(pool, nil)
	require.NoError(t, err)
	comp, err := compliance.New(compliance.Deps{Pool: pool})
	require.NoError(t, err)
	b := &testBundle{
		pool: pool, rdb: testenv.Redis(t), prefix: testenv.KeyPrefix(t), ring: ring, queue: queue, compliance: comp,
		events: &eventLog{next: comp.Recorder()}, clock: newFakeClock(), logs: &lockedBuffer{},
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("module logs:\n%s", b.logs.String())
		}
	})
	b.app = b.newApp(t, configure...)
	return b
}

// newApp builds and starts another identity module on the bundle's
// dependencies and serves it on its own router.
func (b *testBundle) newApp(t *testing.T, configure ...func(*identity.Config)) *app {
	t.Helper()
	cfg := identity.Config{
		BaseURL:          testBaseURL,
		DashboardBaseURL: testDashboardURL,
		Argon2MemoryKiB:  8192,
		Argon2Iterations: 1,
		EmailEnabled:     true,
		RedisKeyPrefix:   b.prefix,
	}
	for _, f := range configure {
		f(&cfg)
	}
	logger := slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	mod, err := identity.New(identity.Deps{
		Pool: b.pool, Redis: b.rdb, Queue: b.queue, KeyRing: b.ring, Recorder: b.events,
		Logger: logger, NowFunc: b.clock.Now, Config: cfg,
	})
	require.NoError(t, err)
	require.NoError(t, mod.Start(t.Context()))
	mux, api := httpapi.New(httpapi.Options{
		Logger: logger,
		// Tests pick client addresses with X-Forwarded-For (see fromIP).
		TrustProxyHeaders: true,
		TrustedProxies:    []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
		Authenticators:    map[string]httpapi.Authenticator{httpapi.SchemeBearer: mod.Authenticator()},
	})
	mod.RegisterRoutes(api)
	mod.RegisterPages(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &app{b: b, mod: mod, cfg: cfg, url: srv.URL}
}

// ---- HTTP

type response struct {
	status int
	header http.Header
	body   []byte
}

type reqOpt func(*http.Request)

func bearer(tok string) reqOpt {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

func fromIP(ip string) reqOpt {
	return func(r *http.Request) { r.Header.Set("X-Forwarded-For", ip) }
}

func withContentType(ct string) reqOpt {
	return func(r *http.Request) { r.Header.Set("Content-Type", ct) }
}

// do sends a request to the app. A string or []byte body is sent as is,
// anything else as JSON; both with Content-Type application/json unless an
// option sets another.
func (a *app) do(t *testing.T, method, path string, body any, opts ...reqOpt) response {
	t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	case []byte:
		rd = bytes.NewReader(v)
	default:
		raw, err := json.Marshal(v)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, a.url+path, rd)
	require.NoError(t, err)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "identity-test")
	for _, o := range opts {
		o(req)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

func (a *app) post(t *testing.T, path string, body any, opts ...reqOpt) response {
	t.Helper()
	return a.do(t, http.MethodPost, path, body, opts...)
}

func (a *app) get(t *testing.T, path string, opts ...reqOpt) response {
	t.Helper()
	return a.do(t, http.MethodGet, path, nil, opts...)
}

// postForm sends an application/x-www-form-urlencoded body.
func (a *app) postForm(t *testing.T, path string, form url.Values) response {
	t.Helper()
	return a.do(t, http.MethodPost, path, form.Encode(), withContentType("application/x-www-form-urlencoded"))
}

// requireMessage checks a 200 `{message}` answer.
func requireMessage(t *testing.T, r response, want string) {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var body map[string]any
	require.NoError(t, json.Unmarshal(r.body, &body))
	require.Equal(t, map[string]any{"message": want}, body)
}

// problem is an AuthOS problem+json body.
type problem struct {
	Type      string          `json:"type"`
	Title     string          `json:"title"`
	Status    int             `json:"status"`
	Detail    string          `json:"detail"`
	Instance  string          `json:"instance"`
	Error     string          `json:"error"`
	ErrorCode string          `json:"error_code"`
	Timestamp time.Time       `json:"timestamp"`
	Errors    []problemDetail `json:"errors"`
}

type problemDetail struct {
	Message  string `json:"message"`
	Location string `json:"location"`
}

// locations lists the locations of the problem's field errors.
func (p problem) locations() []string {
	out := make([]string, 0, len(p.Errors))
	for _, d := range p.Errors {
		out = append(out, d.Location)
	}
	return out
}

// message returns the message of the field error at location.
func (p problem) message(location string) string {
	for _, d := range p.Errors {
		if d.Location == location {
			return d.Message
		}
	}
	return ""
}

// comparable drops the members that differ between two identical answers
// (request id and time), to compare answers for account enumeration.
func (p problem) comparable() problem {
	p.Instance, p.Timestamp = "", time.Time{}
	return p
}

// requireProblem checks the status and the problem+json envelope (error,
// error_code, type, title, status, timestamp), and the message unless msg
// is empty.
func requireProblem(t *testing.T, r response, status int, code, msg string) problem {
	t.Helper()
	require.Equal(t, status, r.status, string(r.body))
	require.Equal(t, httpapi.ProblemContentType, r.header.Get("Content-Type"))
	var raw map[string]any
	require.NoError(t, json.Unmarshal(r.body, &raw))
	for _, k := range []string{"error", "error_code", "type", "title", "status", "timestamp"} {
		require.Contains(t, raw, k, string(r.body))
	}
	var p problem
	require.NoError(t, json.Unmarshal(r.body, &p))
	require.Equal(t, status, p.Status)
	require.Equal(t, http.StatusText(status), p.Title)
	require.Equal(t, "about:blank", p.Type)
	require.Equal(t, code, p.ErrorCode)
	require.Equal(t, p.Detail, p.Error)
	require.False(t, p.Timestamp.IsZero())
	if msg != "" {
		require.Equal(t, msg, p.Error)
	}
	if status == http.StatusUnauthorized {
		require.True(t, strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer"), r.header.Get("WWW-Authenticate"))
	}
	return p
}

// requireFieldError checks a 422 VALIDATION_ERROR naming location.
func requireFieldError(t *testing.T, r response, location string) problem {
	t.Helper()
	p := requireProblem(t, r, http.StatusUnprocessableEntity, httpapi.CodeValidationError, "")
	require.Contains(t, p.locations(), location, string(r.body))
	return p
}

// ---- accounts and tokens

// tokenPair is a login or refresh answer.
type tokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
}

func (a *app) register(t *testing.T, email, password string) {
	t.Helper()
	requireMessage(t, a.post(t, "/api/auth/register", map[string]string{"email": email, "password": password}), msgRegistered)
}

// verifyEmail follows the newest verification link mailed to email.
func (a *app) verifyEmail(t *testing.T, email string) {
	t.Helper()
	r := a.get(t, "/auth/verify-email?token="+url.QueryEscape(a.b.mailToken(t, email, "verify_email")))
	require.Equal(t, http.StatusOK, r.status, string(r.body))
}

// verifiedUser registers email and follows its verification link.
func (a *app) verifiedUser(t *testing.T, email, password string) identity.User {
	t.Helper()
	a.register(t, email, password)
	a.verifyEmail(t, email)
	u := a.b.user(t, email)
	require.NotNil(t, u.EmailVerifiedAt)
	return u
}

// oauthUser creates a verified account without a password, as a social
// login would.
func (b *testBundle) oauthUser(t *testing.T, email string) identity.User {
	t.Helper()
	now := b.clock.Now()
	u, err := identity.NewStore(b.pool).UserInsert(t.Context(), identity.User{ID: uuid.Must(uuid.NewV7()), Email: email, EmailVerifiedAt: &now, CreatedAt: now})
	require.NoError(t, err)
	return u
}

func (a *app) loginResponse(t *testing.T, email, password string, opts ...reqOpt) response {
	t.Helper()
	return a.post(t, "/api/auth/login", map[string]string{"email": email, "password": password}, opts...)
}

func (a *app) login(t *testing.T, email, password string) tokenPair {
	t.Helper()
	return decodeTokens(t, a.loginResponse(t, email, password))
}

func (a *app) refresh(t *testing.T, refresh string) response {
	t.Helper()
	return a.post(t, "/api/auth/refresh", map[string]string{"refresh_token": refresh})
}

func decodeTokens(t *testing.T, r response) tokenPair {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var tp tokenPair
	require.NoError(t, json.Unmarshal(r.body, &tp))
	require.NotEmpty(t, tp.AccessToken)
	require.NotEmpty(t, tp.RefreshToken)
	return tp
}

// requireTokenWorks and requireTokenRejected call GET /api/user.
func (a *app) requireTokenWorks(t *testing.T, access string) {
	t.Helper()
	r := a.get(t, "/api/user", bearer(access))
	require.Equal(t, http.StatusOK, r.status, string(r.body))
}

func (a *app) requireTokenRejected(t *testing.T, access string) {
	t.Helper()
	requireProblem(t, a.get(t, "/api/user", bearer(access)), http.StatusUnauthorized, httpapi.CodeUnauthorized, msgSessionRevoked)
}

// user loads the platform user with email.
func (b *testBundle) user(t *testing.T, email string) identity.User {
	t.Helper()
	u, err := identity.NewStore(b.pool).UserGetByEmail(t.Context(), nil, email)
	require.NoError(t, err)
	return u
}

// countUsers counts accounts with email, case-insensitively.
func (b *testBundle) countUsers(t *testing.T, email string) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM users WHERE lower(email) = lower($1)`, email).Scan(&n))
	return n
}

// session loads a session row.
func (b *testBundle) session(t *testing.T, id uuid.UUID) identity.Session {
	t.Helper()
	x, err := identity.NewStore(b.pool).SessionGet(t.Context(), id)
	require.NoError(t, err)
	return x
}

// revokedReason returns the revoked_reason of a session ("" when live).
func (b *testBundle) revokedReason(t *testing.T, id uuid.UUID) string {
	t.Helper()
	var reason *string
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT revoked_reason FROM sessions WHERE id = $1`, id).Scan(&reason))
	if reason == nil {
		return ""
	}
	return *reason
}

// ---- JWTs

// decodeJWT returns the unverified header and claims of a compact JWS.
func decodeJWT(t *testing.T, raw string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(raw, ".")
	require.Len(t, parts, 3)
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		require.NoError(t, err)
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		require.NoError(t, dec.Decode(dst))
	}
	return header, claims
}

// sessionID returns the sid claim of an access token.
func sessionID(t *testing.T, access string) uuid.UUID {
	t.Helper()
	_, c := decodeJWT(t, access)
	sid, ok := c["sid"].(string)
	require.True(t, ok)
	return uuid.MustParse(sid)
}

// activeKey decrypts the active signing key from the database, to forge
// tokens that differ from genuine ones only where a test says.
func (b *testBundle) activeKey(t *testing.T) token.Key {
	t.Helper()
	keys, err := identity.NewStore(b.pool).KeyList(t.Context())
	require.NoError(t, err)
	require.NotEmpty(t, keys)
	k := keys[0]
	require.Equal(t, "active", k.Status)
	priv, err := b.ring.Decrypt(k.PrivateEnc, k.EncKeyID, identity.SigningKeyAD(k.KID))
	require.NoError(t, err)
	key, err := token.ParsePrivateKeyPEM(priv, k.KID)
	require.NoError(t, err)
	return key
}

// forge encodes header and claims with golang-jwt and signs them with
// method and key (any key golang-jwt's method accepts). ES256 signatures
// are normalised to low S, as AuthOS signs them, so a rejection is never
// caused by the malleability check by accident.
func forge(t *testing.T, method jwt.SigningMethod, key any, header, claims map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, jwt.MapClaims(claims))
	tok.Header = header
	input, err := tok.SigningString()
	require.NoError(t, err)
	sig, err := method.Sign(input, key)
	require.NoError(t, err)
	if method == jwt.SigningMethodES256 {
		sig = lowS(sig)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// lowS returns the low-S form of an r||s P-256 signature.
func lowS(sig []byte) []byte {
	n := elliptic.P256().Params().N
	s := new(big.Int).SetBytes(sig[32:])
	if s.Cmp(new(big.Int).Rsh(n, 1)) > 0 {
		s.Sub(n, s)
	}
	out := bytes.Clone(sig)
	s.FillBytes(out[32:])
	return out
}

// highS returns the high-S twin of a low-S r||s P-256 signature, which is
// just as valid mathematically.
func highS(sig []byte) []byte {
	n := elliptic.P256().Params().N
	s := new(big.Int).SetBytes(sig[32:])
	out := bytes.Clone(sig)
	new(big.Int).Sub(n, s).FillBytes(out[32:])
	return out
}

// ecdsaKey returns the ECDSA private key of a token.Key.
func ecdsaKey(t *testing.T, k token.Key) *ecdsa.PrivateKey {
	t.Helper()
	priv, ok := k.Private.(*ecdsa.PrivateKey)
	require.True(t, ok, "signing key is %T", k.Private)
	return priv
}

// ---- emails and jobs

// sentEmail is one email.send job with its data opened.
type sentEmail struct {
	To, Template string
	OrgID        *uuid.UUID
	Data         map[string]any
}

func (e sentEmail) link() string {
	l, _ := e.Data["Link"].(string)
	return l
}

// emails returns the email.send jobs to `to` (every job when empty), oldest
// first, with their sealed data opened.
func (b *testBundle) emails(t *testing.T, to string) []sentEmail {
	t.Helper()
	rows, err := b.pool.Query(t.Context(), `SELECT args FROM river_job WHERE kind = 'email.send' ORDER BY id`)
	require.NoError(t, err)
	raws, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	require.NoError(t, err)
	var out []sentEmail
	for _, raw := range raws {
		var a jobs.EmailSendArgs
		require.NoError(t, json.Unmarshal(raw, &a))
		if to != "" && !strings.EqualFold(a.To, to) {
			continue
		}
		data, err := b.ring.Open(a.SealedData, []byte("email.send:"+a.To+":"+a.Template))
		require.NoError(t, err)
		e := sentEmail{To: a.To, Template: a.Template, OrgID: a.OrgID}
		require.NoError(t, json.Unmarshal(data, &e.Data))
		out = append(out, e)
	}
	return out
}

// emailsOf returns the emails of one template to `to`.
func (b *testBundle) emailsOf(t *testing.T, to, template string) []sentEmail {
	t.Helper()
	var out []sentEmail
	for _, e := range b.emails(t, to) {
		if e.Template == template {
			out = append(out, e)
		}
	}
	return out
}

// mailToken returns the token of the newest link of template mailed to `to`.
func (b *testBundle) mailToken(t *testing.T, to, template string) string {
	t.Helper()
	list := b.emailsOf(t, to, template)
	require.NotEmpty(t, list, "no %s email to %s", template, to)
	return linkToken(t, list[len(list)-1].link())
}

func linkToken(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	require.NoError(t, err)
	tok := u.Query().Get("token")
	require.NotEmpty(t, tok, "no token in %q", link)
	return tok
}

// jobsOf lists the jobs of a kind, oldest first.
func (b *testBundle) jobsOf(t *testing.T, kind string) []*rivertype.JobRow {
	t.Helper()
	res, err := b.queue.JobList(t.Context(), river.NewJobListParams().Kinds(kind).First(100))
	require.NoError(t, err)
	return res.Jobs
}

// workJob works an enqueued job with w the way River would, with a River
// client in the context (river.ClientFromContext), and commits.
func workJob[T river.JobArgs](t *testing.T, b *testBundle, w river.Worker[T], job *rivertype.JobRow) {
	t.Helper()
	tw := rivertest.NewWorker(t, riverpgxv5.New(b.pool), &river.Config{}, w)
	tx, err := b.pool.Begin(t.Context())
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(context.WithoutCancel(t.Context())) }()
	res, err := tw.WorkJob(t.Context(), t, tx, job)
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCompleted, res.EventKind)
	require.NoError(t, tx.Commit(t.Context()))
}

// workArgs inserts a job of args and works it with w (no uniqueness check).
func workArgs[T river.JobArgs](t *testing.T, b *testBundle, w river.Worker[T], args T) {
	t.Helper()
	tw := rivertest.NewWorker(t, riverpgxv5.New(b.pool), &river.Config{}, w)
	tx, err := b.pool.Begin(t.Context())
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(context.WithoutCancel(t.Context())) }()
	res, err := tw.Work(t.Context(), t, tx, args, nil)
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCompleted, res.EventKind)
	require.NoError(t, tx.Commit(t.Context()))
}

// flushRedis deletes every key of the test's namespace, as a Redis restart
// without persistence would.
func (b *testBundle) flushRedis(t *testing.T) {
	t.Helper()
	keys, err := b.rdb.Keys(t.Context(), b.prefix+"*").Result()
	require.NoError(t, err)
	require.NotEmpty(t, keys)
	require.NoError(t, b.rdb.Del(t.Context(), keys...).Err())
}
