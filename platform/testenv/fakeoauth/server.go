package fakeoauth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// Provider flavours served by the fake.
const (
	GitHub    = "github"
	Google    = "google"
	Microsoft = "microsoft"
)

// Endpoint names used in [Request.Endpoint].
const (
	EndpointAuthorize = "authorize"
	EndpointToken     = "token"
	EndpointUser      = "user"     // GitHub GET /user
	EndpointEmails    = "emails"   // GitHub GET /user/emails
	EndpointUserInfo  = "userinfo" // Google and Microsoft userinfo
)

// Lifetimes of what the fake issues.
const (
	CodeTTL               = 10 * time.Minute
	DefaultAccessTokenTTL = time.Hour
)

// User is who "signs in" at a provider's authorize endpoint.
type User struct {
	// ID is GitHub's numeric id (decimal; served as a JSON number when it is
	// one, as a string otherwise) or Google's/Microsoft's sub.
	ID string
	// Login is the GitHub login; unused by the other flavours.
	Login string
	Name  string
	// Email is the primary address. How EmailVerified shows: GitHub marks
	// the primary /user/emails entry verified (and only then shows it as
	// the public /user email); Google sends email_verified; Microsoft sends
	// xms_edov: true when verified and nothing otherwise, as Graph's
	// userinfo normally carries no verification claim at all.
	Email         string
	EmailVerified bool
	// ExtraEmails are further, non-primary GitHub /user/emails entries.
	ExtraEmails []Email
}

// Email is a secondary GitHub email address.
type Email struct {
	Address  string
	Verified bool
}

// Request is one request the fake answered, for assertions.
type Request struct {
	Provider string
	// Endpoint is one of the Endpoint* constants.
	Endpoint string
	Method   string
	// ClientID is the client id presented at authorize and token, or the
	// client the bearer token was issued to at the user APIs.
	ClientID string
	// GrantType is the token request's grant_type.
	GrantType string
	// Status is the HTTP status the fake answered with.
	Status int
}

// Server is the fake provider. Build it with [New], or [Start] in tests. It
// is safe for concurrent use; it is also an http.Handler, so it can be
// mounted in another server.
type Server struct {
	mux *http.ServeMux

	mu        sync.Mutex
	srv       *http.Server
	baseURL   string
	nowFunc   func() time.Time
	accessTTL time.Duration
	clients   map[string]registeredClient
	users     map[string]User
	deny      map[string]int
	codes     map[string]*authCode
	access    map[string]*grant
	refresh   map[string]*grant
	seen      map[string][]string
	requests  []Request
}

type registeredClient struct {
	secret       string
	redirectURIs []string
}

// authCode is an issued authorization code.
type authCode struct {
	provider    string
	clientID    string
	redirectURI string
	challenge   string
	scopes      []string
	offline     bool
	nonce       string
	user        User
	expiresAt   time.Time
	used        bool
	tokens      []string // access and refresh tokens issued for it
}

// grant is what an access or refresh token stands for.
type grant struct {
	provider  string
	clientID  string
	secret    string
	user      User
	scopes    []string
	offline   bool
	nonce     string
	expiresAt time.Time // zero for refresh tokens
}

// New returns a server that is not listening yet, with a default user per
// provider (verified email for GitHub and Google, unverified for Microsoft)
// and no registered clients.
func New() *Server {
	s := &Server{
		nowFunc:   time.Now,
		accessTTL: DefaultAccessTokenTTL,
		clients:   map[string]registeredClient{},
		users: map[string]User{
			GitHub:    {ID: "1001", Login: "octocat", Name: "The Octocat", Email: "octocat@github.example", EmailVerified: true},
			Google:    {ID: "110248495921238986420", Name: "Gia Google", Email: "gia@gmail.example", EmailVerified: true},
			Microsoft: {ID: "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ", Name: "Mia Microsoft", Email: "mia@contoso.example"},
		},
		deny:    map[string]int{},
		codes:   map[string]*authCode{},
		access:  map[string]*grant{},
		refresh: map[string]*grant{},
		seen:    map[string][]string{},
	}
	mux := http.NewServeMux()
	for _, r := range []struct {
		pattern, provider, endpoint string
		h                           handlerFunc
	}{
		{"GET /github/login/oauth/authorize", GitHub, EndpointAuthorize, s.authorize},
		{"POST /github/login/oauth/access_token", GitHub, EndpointToken, s.token},
		{"GET /github/api/user", GitHub, EndpointUser, s.githubUser},
		{"GET /github/api/user/emails", GitHub, EndpointEmails, s.githubEmails},
		{"GET /google/auth", Google, EndpointAuthorize, s.authorize},
		{"POST /google/token", Google, EndpointToken, s.token},
		{"GET /google/userinfo", Google, EndpointUserInfo, s.userInfo},
		{"GET /microsoft/authorize", Microsoft, EndpointAuthorize, s.authorize},
		{"POST /microsoft/token", Microsoft, EndpointToken, s.token},
		{"GET /microsoft/userinfo", Microsoft, EndpointUserInfo, s.userInfo},
	} {
		mux.Handle(r.pattern, s.record(r.provider, r.endpoint, r.h))
	}
	s.mux = mux
	return s
}

// Start creates a server, starts it on a loopback port and closes it when
// the test ends. It fails the test if the server cannot listen.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s := New()
	if _, err := s.Start(); err != nil {
		tb.Fatalf("start fake oauth server: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// Start listens on a free loopback port and serves in the background. It
// returns the base URL (http://127.0.0.1:port, no trailing slash).
func (s *Server) Start() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return "", errors.New("fake oauth server already started")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("listen: %w", err)
	}
	s.srv = &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second}
	s.baseURL = "http://" + l.Addr().String()
	go func(srv *http.Server) { _ = srv.Serve(l) }(s.srv)
	return s.baseURL, nil
}

// Close stops the server started by Start; it is a no-op otherwise.
func (s *Server) Close() error {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	if err := srv.Close(); err != nil {
		return fmt.Errorf("close fake oauth server: %w", err)
	}
	return nil
}

// ServeHTTP serves the fake's endpoints, for mounting it elsewhere.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// URL returns the base URL, empty before Start.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.baseURL
}

// Endpoints returns the URLs to configure for provider: the authorize and
// token endpoints and the user API (GitHub's API base, which the client
// appends /user and /user/emails to; the userinfo URL for the others). It
// returns empty strings for an unknown provider or before Start.
func (s *Server) Endpoints(provider string) (authURL, tokenURL, userAPIURL string) {
	base := s.URL()
	if base == "" {
		return "", "", ""
	}
	switch provider {
	case GitHub:
		return base + "/github/login/oauth/authorize", base + "/github/login/oauth/access_token", base + "/github/api"
	case Google:
		return base + "/google/auth", base + "/google/token", base + "/google/userinfo"
	case Microsoft:
		return base + "/microsoft/authorize", base + "/microsoft/token", base + "/microsoft/userinfo"
	default:
		return "", "", ""
	}
}

// RegisterClient registers (or replaces) an OAuth app valid at all three
// providers, with the exact redirect URIs it may use.
func (s *Server) RegisterClient(clientID, clientSecret string, redirectURIs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[clientID] = registeredClient{secret: clientSecret, redirectURIs: slices.Clone(redirectURIs)}
}

// SetUser sets who signs in at provider's authorize endpoint from now on.
// Codes and tokens already issued keep the user they were issued for. An
// unknown provider is ignored.
func (s *Server) SetUser(provider string, u User) {
	if !knownProvider(provider) {
		return
	}
	u.ExtraEmails = slices.Clone(u.ExtraEmails)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[provider] = u
}

// DenyNext makes the next authorize request at provider redirect back with
// error=access_denied, as if the user refused consent. Calls add up.
func (s *Server) DenyNext(provider string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deny[provider]++
}

// SetClock replaces the server's clock (time.Now by default), to expire
// codes and access tokens in tests.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nowFunc = now
}

// SetAccessTokenTTL sets the lifetime (expires_in) of access tokens issued
// from now on; DefaultAccessTokenTTL by default.
func (s *Server) SetAccessTokenTTL(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accessTTL = d
}

// SeenClientIDs returns the distinct client ids presented at provider's
// authorize and token endpoints, in order of first use, registered or not.
func (s *Server) SeenClientIDs(provider string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.seen[provider])
}

// Requests returns every request answered so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// handlerFunc serves one endpoint and fills in the request record.
type handlerFunc func(w http.ResponseWriter, r *http.Request, rec *Request)

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	if err != nil {
		return n, fmt.Errorf("write response: %w", err)
	}
	return n, nil
}

// record wraps h so that every request is added to Requests.
func (s *Server) record(provider, endpoint string, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := Request{Provider: provider, Endpoint: endpoint, Method: r.Method}
		sw := &statusWriter{ResponseWriter: w}
		h(sw, r, &rec)
		rec.Status = sw.status
		if rec.Status == 0 {
			rec.Status = http.StatusOK
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.requests = append(s.requests, rec)
		presented := endpoint == EndpointAuthorize || endpoint == EndpointToken
		if presented && rec.ClientID != "" && !slices.Contains(s.seen[provider], rec.ClientID) {
			s.seen[provider] = append(s.seen[provider], rec.ClientID)
		}
	})
}

func knownProvider(p string) bool {
	return p == GitHub || p == Google || p == Microsoft
}

// randomToken returns prefix followed by 32 random bytes in base64url.
func randomToken(prefix string) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// now reads the clock; s.mu must be held.
func (s *Server) now() time.Time { return s.nowFunc() }
