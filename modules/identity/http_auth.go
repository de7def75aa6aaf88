package identity

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/authos/authos/platform/crypto"
	"github.com/authos/authos/platform/httpapi"
	"github.com/authos/authos/platform/redis"
)

// ClientMeta is embedded in inputs that record who called.
type ClientMeta struct {
	UserAgent string `header:"User-Agent" hidden:"true"`
}

func metaFrom(ctx context.Context, m ClientMeta) RequestMeta {
	ip := ""
	if a, ok := httpapi.ClientIPFrom(ctx); ok {
		ip = a.String()
	}
	return RequestMeta{IP: ip, UserAgent: m.UserAgent}
}

// MessageOutput is a `{message}` answer.
type MessageOutput struct {
	Body struct {
		Message string `json:"message"`
	}
}

func message(m string) *MessageOutput {
	out := &MessageOutput{}
	out.Body.Message = m
	return out
}

// TokenBody is a token answer.
type TokenBody struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in" doc:"Access-token lifetime in seconds"`
	// MFARequired: access_token is a 5-minute, single-use pre-auth token
	// for POST /api/auth/mfa/verify, not a session.
	MFARequired bool `json:"mfa_required,omitempty" doc:"True when access_token is an MFA pre-auth token (complete with POST /api/auth/mfa/verify)"`
}

// TokenOutput is a token answer that must not be cached.
type TokenOutput struct {
	CacheControl string `header:"Cache-Control"`
	Pragma       string `header:"Pragma"`
	Body         TokenBody
}

func tokenOutput(t Tokens) *TokenOutput {
	return &TokenOutput{CacheControl: "no-store", Pragma: "no-cache", Body: TokenBody{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, ExpiresIn: t.ExpiresIn}}
}

// RegisterInput is POST /api/auth/register.
type RegisterRequest struct {
	ClientMeta
	Body struct {
		Email       string `json:"email" maxLength:"254" doc:"Email address"`
		Password    string `json:"password" maxLength:"1024" doc:"8 to 128 characters"`
		OrgSlug     string `json:"org_slug,omitempty" maxLength:"100"`
		ServiceSlug string `json:"service_slug,omitempty" maxLength:"100"`
		RedirectURI string `json:"redirect_uri,omitempty" maxLength:"2048"`
		State       string `json:"state,omitempty" maxLength:"512"`
	}
}

// LoginRequest is POST /api/auth/login.
type LoginRequest struct {
	ClientMeta
	Body struct {
		Email       string `json:"email" maxLength:"254"`
		Password    string `json:"password" maxLength:"1024"`
		OrgSlug     string `json:"org_slug,omitempty" maxLength:"100"`
		ServiceSlug string `json:"service_slug,omitempty" maxLength:"100"`
		RedirectURI string `json:"redirect_uri,omitempty" maxLength:"2048"`
		State       string `json:"state,omitempty" maxLength:"512"`
	}
}

// EmailOnlyRequest is forgot-password and resend-verification.
type EmailOnlyRequest struct {
	ClientMeta
	Body struct {
		Email       string `json:"email" maxLength:"254"`
		OrgSlug     string `json:"org_slug,omitempty" maxLength:"100"`
		ServiceSlug string `json:"service_slug,omitempty" maxLength:"100"`
		RedirectURI string `json:"redirect_uri,omitempty" maxLength:"2048"`
		State       string `json:"state,omitempty" maxLength:"512"`
	}
}

// ResetPasswordRequest is POST /api/auth/reset-password.
type ResetPasswordRequest struct {
	ClientMeta
	Body struct {
		Token       string `json:"token" minLength:"1" maxLength:"200"`
		NewPassword string `json:"new_password" maxLength:"1024"`
	}
}

// RefreshRequest is POST /api/auth/refresh.
type RefreshRequest struct {
	ClientMeta
	Body struct {
		RefreshToken string `json:"refresh_token" minLength:"1" maxLength:"1000"`
	}
}

// LogoutRequest is POST /api/auth/logout.
type LogoutRequest struct {
	ClientMeta
}

// RevokeRequest is POST /auth/revoke (RFC 7009, form encoded).
type RevokeRequest struct {
	RawBody []byte `contentType:"application/x-www-form-urlencoded"`
}

// JWKSOutput is the JSON Web Key Set.
type JWKSOutput struct {
	ContentType  string `header:"Content-Type"`
	CacheControl string `header:"Cache-Control"`
	Body         []byte
}

const (
	msgRegistered   = "Registration successful. Please check your email to verify your account."
	msgResetSent    = "If an account with that email exists, a password reset link has been sent."
	msgResendSent   = "If an account with that email exists and is not verified, a verification link has been sent."
	msgResetDone    = "Password has been reset successfully. Please log in with your new password."
	msgLoggedOut    = "Logged out successfully"
	perEmailLimited = "Too many registration attempts. Please try again later."
)

func registerAuthRoutes(api huma.API, s *Service, limiter *redis.Limiter) {
	write := func(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
		httpapi.WriteProblem(w, r, status, code, msg)
	}
	auth := huma.NewGroup(api)
	auth.UseSimpleModifier(func(op *huma.Operation) { op.Tags = []string{"Authentication"} })
	auth.UseMiddleware(limiter.HumaMiddleware(api, redis.Rule{Name: redis.RuleAuth, Rate: redis.AuthRate()}, write))

	perEmail := func(ctx context.Context, kind, email string) error {
		if limiter.Disabled {
			return nil
		}
		res, err := limiter.Allow(ctx, kind+":"+crypto.HashToken(strings.ToLower(strings.TrimSpace(email))), redis.Rate{Every: 12 * time.Minute, Burst: 5})
		if err != nil {
			return ErrLimiterUnavailable
		}
		if !res.Allowed {
			secs := int(res.RetryAfter.Seconds()) + 1
			msg := redis.MessageTooManyRequests
			if kind == "register" {
				msg = perEmailLimited
			}
			return httpapi.NewError(http.StatusTooManyRequests, httpapi.CodeTooManyRequests, msg).WithHeader("Retry-After", strconv.Itoa(max(secs, 1)))
		}
		return nil
	}

	registerContextRoute(auth, s)

	huma.Register(auth, huma.Operation{
		OperationID: "register", Method: http.MethodPost, Path: "/api/auth/register",
		Summary: "Register with email and password", Description: "Creates an unverified account and emails a verification link. The answer is the same whether or not the email is already registered.",
	}, func(ctx context.Context, in *RegisterRequest) (*MessageOutput, error) {
		if err := perEmail(ctx, "register", in.Body.Email); err != nil {
			return nil, toHTTPError(err)
		}
		err := s.Register(ctx, RegisterInput{Email: in.Body.Email, Password: in.Body.Password, OrgSlug: in.Body.OrgSlug, ServiceSlug: in.Body.ServiceSlug, RedirectURI: in.Body.RedirectURI}, metaFrom(ctx, in.ClientMeta))
		if err != nil {
			return nil, toHTTPError(err)
		}
		return message(msgRegistered), nil
	})

	huma.Register(auth, huma.Operation{
		OperationID: "login", Method: http.MethodPost, Path: "/api/auth/login",
		Summary: "Log in with email and password",
	}, func(ctx context.Context, in *LoginRequest) (*TokenOutput, error) {
		if in.Body.RedirectURI != "" && (in.Body.OrgSlug == "" || in.Body.ServiceSlug == "") {
			return nil, httpapi.NewError(http.StatusBadRequest, httpapi.CodeBadRequest, "redirect_uri requires org_slug and service_slug")
		}
		res, err := s.Login(ctx, LoginInput{Email: in.Body.Email, Password: in.Body.Password, OrgSlug: in.Body.OrgSlug, ServiceSlug: in.Body.ServiceSlug, RedirectURI: in.Body.RedirectURI}, metaFrom(ctx, in.ClientMeta))
		if errors.Is(err, ErrAccountLocked) {
			return nil, httpapi.NewError(http.StatusTooManyRequests, httpapi.CodeTooManyRequests, "Too many failed login attempts. Please try again later.").
				WithHeader("Retry-After", strconv.Itoa(max(int((s.cfg.LockoutDuration+time.Second-1)/time.Second), 1)))
		}
		if err != nil {
			return nil, toHTTPError(err)
		}
		out := tokenOutput(res.Tokens)
		out.Body.MFARequired = res.MFARequired
		return out, nil
	})

	huma.Register(auth, huma.Operation{
		OperationID: "forgot-password", Method: http.MethodPost, Path: "/api/auth/forgot-password",
		Summary: "Email a password reset link", Description: "Always answers the same message, whether or not the account exists.",
	}, func(ctx context.Context, in *EmailOnlyRequest) (*MessageOutput, error) {
		if err := perEmail(ctx, "forgot", in.Body.Email); err != nil {
			return nil, toHTTPError(err)
		}
		if err := s.RequestPasswordReset(ctx, EmailRequest{Email: in.Body.Email, OrgSlug: in.Body.OrgSlug, ServiceSlug: in.Body.ServiceSlug}); err != nil {
			return nil, toHTTPError(err)
		}
		return message(msgResetSent), nil
	})

	huma.Register(auth, huma.Operation{
		OperationID: "resend-verification", Method: http.MethodPost, Path: "/api/auth/resend-verification",
		Summary: "Resend the verification email", Description: "Always answers the same message, whether or not the account exists.",
	}, func(ctx context.Context, in *EmailOnlyRequest) (*MessageOutput, error) {
		if err := perEmail(ctx, "resend", in.Body.Email); err != nil {
			return nil, toHTTPError(err)
		}
		if err := s.RequestVerificationResend(ctx, EmailRequest{Email: in.Body.Email, OrgSlug: in.Body.OrgSlug, ServiceSlug: in.Body.ServiceSlug}); err != nil {
			return nil, toHTTPError(err)
		}
		return message(msgResendSent), nil
	})

	huma.Register(auth, huma.Operation{
		OperationID: "reset-password", Method: http.MethodPost, Path: "/api/auth/reset-password",
		Summary: "Set a new password with a reset token", Description: "Revokes every session of the account.",
	}, func(ctx context.Context, in *ResetPasswordRequest) (*MessageOutput, error) {
		if err := s.ResetPassword(ctx, in.Body.Token, in.Body.NewPassword, metaFrom(ctx, in.ClientMeta)); err != nil {
			return nil, resetTokenError(err)
		}
		return message(msgResetDone), nil
	})

	huma.Register(auth, huma.Operation{
		OperationID: "refresh-token", Method: http.MethodPost, Path: "/api/auth/refresh",
		Summary: "Rotate a refresh token", Description: "Returns a new access and refresh token; the old refresh token and the previous access token stop working. Replaying a rotated refresh token revokes the session.",
	}, func(ctx context.Context, in *RefreshRequest) (*TokenOutput, error) {
		t, err := s.Refresh(ctx, in.Body.RefreshToken, metaFrom(ctx, in.ClientMeta))
		if err != nil {
			return nil, toHTTPError(err)
		}
		return tokenOutput(t), nil
	})

	huma.Register(auth, huma.Operation{
		OperationID: "logout", Method: http.MethodPost, Path: "/api/auth/logout",
		Summary: "End the current session", Security: httpapi.Security(httpapi.SchemeBearer),
	}, func(ctx context.Context, in *LogoutRequest) (*MessageOutput, error) {
		p := httpapi.MustPrincipal(ctx)
		if err := s.Logout(ctx, p.UserID, p.SessionID, metaFrom(ctx, in.ClientMeta)); err != nil {
			return nil, toHTTPError(err)
		}
		return message(msgLoggedOut), nil
	})

	huma.Register(auth, huma.Operation{
		OperationID: "revoke-token", Method: http.MethodPost, Path: "/auth/revoke",
		Summary: "Revoke a token (RFC 7009)", Description: "Form-encoded `token` and optional `token_type_hint`. Always answers 200.",
	}, func(ctx context.Context, in *RevokeRequest) (*struct{ Status int }, error) {
		form, err := url.ParseQuery(string(in.RawBody))
		if err == nil {
			s.Revoke(ctx, form.Get("token"), form.Get("token_type_hint"))
		}
		return &struct{ Status int }{Status: http.StatusOK}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "get-jwks", Method: http.MethodGet, Path: "/.well-known/jwks.json", Tags: []string{"Authentication"},
		Summary: "JSON Web Key Set", Description: "The active signing key first, then previous keys whose tokens may still be live.",
	}, func(ctx context.Context, _ *struct{}) (*JWKSOutput, error) {
		b, err := s.JWKS()
		if err != nil {
			return nil, err
		}
		return &JWKSOutput{ContentType: "application/json", CacheControl: "public, max-age=300", Body: b}, nil
	})
}
