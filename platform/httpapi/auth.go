package httpapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
)

// Security scheme names declared in the OpenAPI. Operations use them in
// Security, e.g. Security: httpapi.Security(httpapi.SchemeBearer).
const (
	// SchemeBearer is an AuthOS access token: Authorization: Bearer <jwt>.
	SchemeBearer = "bearerAuth"
	// SchemeAPIKey is a service API key: X-Api-Key: sk_...
	SchemeAPIKey = "apiKeyAuth"
	// SchemeSCIM is an organization's SCIM token: Authorization: Bearer <token>.
	SchemeSCIM = "scimAuth"
)

// APIKeyHeader is the header that carries a service API key.
const APIKeyHeader = "X-Api-Key"

// PrincipalKind says what kind of credential authenticated a request.
type PrincipalKind string

// Principal kinds.
const (
	PrincipalUser   PrincipalKind = "user"
	PrincipalAPIKey PrincipalKind = "api_key"
	PrincipalSCIM   PrincipalKind = "scim"
)

// Principal is the authenticated caller of an operation, as resolved by an
// [Authenticator]. It says who the caller is and what the credential is
// scoped to; whether that allows the operation is decided by the module.
type Principal struct {
	// Kind is the kind of credential.
	Kind PrincipalKind
	// Scheme is the security scheme that authenticated the request; the
	// middleware sets it.
	Scheme string
	// UserID and SessionID identify a user and the session behind the token.
	UserID    uuid.UUID
	SessionID uuid.UUID
	// Email is the user's email from the token, when present.
	Email string
	// OrgID and ServiceID are the token's (or key's) scope; nil when unscoped.
	OrgID     *uuid.UUID
	ServiceID *uuid.UUID
	// OrgSlug and ServiceSlug are the token's org and service claims.
	OrgSlug     string
	ServiceSlug string
	// IsPlatformOwner is the platform-owner flag of the user.
	IsPlatformOwner bool
	// APIKeyID identifies the service API key (Kind api_key).
	APIKeyID uuid.UUID
	// SCIMTokenID identifies the SCIM token (Kind scim).
	SCIMTokenID uuid.UUID
	// Permissions are the API key's permissions or the token's scopes.
	Permissions []string
	// TokenUse is the JWT token_use claim (management_access, ...).
	TokenUse string
	// MFAVerified reports whether the session completed a second factor.
	MFAVerified bool
	// Details carries what the authenticator already resolved for the
	// owning module (e.g. the cached profile), so handlers need not fetch
	// it again. Other packages must treat it as opaque.
	Details any
}

// HasPermission reports whether p holds permission perm.
func (p *Principal) HasPermission(perm string) bool {
	return slices.Contains(p.Permissions, perm)
}

// Authenticator verifies the credential presented for one security scheme
// (the bearer token or API key, without any "Bearer " prefix). It returns an
// *Error to answer with a specific problem (401 TOKEN_EXPIRED, 403 ...); any
// other error answers a generic 401.
type Authenticator interface {
	Authenticate(ctx context.Context, credential string) (*Principal, error)
}

// AuthenticatorFunc adapts a function to [Authenticator].
type AuthenticatorFunc func(ctx context.Context, credential string) (*Principal, error)

// Authenticate calls f.
func (f AuthenticatorFunc) Authenticate(ctx context.Context, credential string) (*Principal, error) {
	return f(ctx, credential)
}

// Security returns an operation's Security requirement accepting any one of
// the given schemes.
func Security(schemes ...string) []map[string][]string {
	out := make([]map[string][]string, 0, len(schemes))
	for _, s := range schemes {
		out = append(out, map[string][]string{s: {}})
	}
	return out
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p. The auth middleware uses it; tests of
// handlers may too.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the authenticated caller, if the operation declared
// security and the request passed it.
func PrincipalFrom(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}

// MustPrincipal returns the authenticated caller and panics when there is
// none, which means the operation forgot to declare Security: a programming
// error answered as a 500 by the recovery middleware.
func MustPrincipal(ctx context.Context) *Principal {
	p, ok := PrincipalFrom(ctx)
	if !ok {
		panic("httpapi: no principal in context; declare Security on the operation")
	}
	return p
}

// authMiddleware enforces the Security declared on each operation.
type authMiddleware struct {
	api            huma.API
	authenticators map[string]Authenticator
}

func (a *authMiddleware) handle(hctx huma.Context, next func(huma.Context)) {
	op := hctx.Operation()
	if op == nil || len(op.Security) == 0 {
		next(hctx)
		return
	}
	var firstErr *Error
	presented, bearer := false, false
	for _, req := range op.Security {
		if len(req) == 0 { // {} in the list makes authentication optional
			next(hctx)
			return
		}
		p, tried, e := a.satisfy(hctx, req)
		bearer = bearer || a.anyBearer(req)
		if p != nil {
			next(huma.WithValue(hctx, principalKey{}, p))
			return
		}
		presented = presented || tried
		if e != nil && firstErr == nil {
			firstErr = e
		}
	}
	if firstErr == nil {
		firstErr = NewError(http.StatusUnauthorized, CodeUnauthorized, "Authentication required")
	}
	if bearer && firstErr.Status == http.StatusUnauthorized && firstErr.GetHeaders().Get("WWW-Authenticate") == "" {
		challenge := "Bearer"
		if presented {
			challenge = `Bearer error="invalid_token"`
		}
		firstErr = firstErr.WithHeader("WWW-Authenticate", challenge)
	}
	writeHumaError(a.api, hctx, firstErr)
}

// satisfy tries one requirement: every scheme in it must authenticate. The
// principal comes from the alphabetically first scheme, so the result does
// not depend on map order. tried reports whether a credential was presented.
func (a *authMiddleware) satisfy(hctx huma.Context, req map[string][]string) (*Principal, bool, *Error) {
	names := make([]string, 0, len(req))
	for name := range req {
		names = append(names, name)
	}
	sort.Strings(names)
	var principal *Principal
	tried := false
	for _, name := range names {
		cred, ok := a.credential(hctx, name)
		if !ok {
			return nil, tried, nil
		}
		tried = true
		p, e := a.authenticate(hctx.Context(), name, cred)
		if e != nil {
			return nil, tried, e
		}
		if principal == nil {
			principal = p
		}
	}
	return principal, tried, nil
}

func (a *authMiddleware) authenticate(ctx context.Context, scheme, cred string) (*Principal, *Error) {
	authn := a.authenticators[scheme]
	if authn == nil {
		return nil, NewError(http.StatusUnauthorized, CodeUnauthorized, "Authentication method not available")
	}
	p, err := authn.Authenticate(ctx, cred)
	if err != nil {
		var pe *Error
		if errors.As(err, &pe) {
			return nil, pe
		}
		loggerFrom(ctx).WarnContext(ctx, "authentication failed", "scheme", scheme, "error", err.Error())
		return nil, NewError(http.StatusUnauthorized, CodeUnauthorized, "Invalid credentials")
	}
	if p == nil {
		return nil, NewError(http.StatusUnauthorized, CodeUnauthorized, "Invalid credentials")
	}
	cp := *p
	cp.Scheme = scheme
	return &cp, nil
}

// credential extracts the credential for a declared scheme from the request.
func (a *authMiddleware) credential(hctx huma.Context, scheme string) (string, bool) {
	ss := a.scheme(scheme)
	if ss == nil {
		return "", false
	}
	switch {
	case ss.Type == "http" && strings.EqualFold(ss.Scheme, "bearer"):
		kind, token, ok := strings.Cut(strings.TrimSpace(hctx.Header("Authorization")), " ")
		token = strings.TrimSpace(token)
		return token, ok && strings.EqualFold(kind, "Bearer") && token != ""
	case ss.Type == "apiKey" && ss.In == "header":
		v := strings.TrimSpace(hctx.Header(ss.Name))
		return v, v != ""
	}
	return "", false
}

func (a *authMiddleware) anyBearer(req map[string][]string) bool {
	for name := range req {
		if ss := a.scheme(name); ss != nil && ss.Type == "http" && strings.EqualFold(ss.Scheme, "bearer") {
			return true
		}
	}
	return false
}

func (a *authMiddleware) scheme(name string) *huma.SecurityScheme {
	c := a.api.OpenAPI().Components
	if c == nil {
		return nil
	}
	return c.SecuritySchemes[name]
}

// securitySchemes are the schemes declared once in the OpenAPI.
func securitySchemes() map[string]*huma.SecurityScheme {
	return map[string]*huma.SecurityScheme{
		SchemeBearer: {Type: "http", Scheme: "bearer", BearerFormat: "JWT",
			Description: "AuthOS access token (Authorization: Bearer <jwt>)."},
		SchemeAPIKey: {Type: "apiKey", In: "header", Name: APIKeyHeader,
			Description: "Service API key (X-Api-Key: sk_...)."},
		SchemeSCIM: {Type: "http", Scheme: "bearer",
			Description: "SCIM token of an organization (Authorization: Bearer <token>)."},
	}
}
