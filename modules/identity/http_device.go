package identity

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"

	"github.com/danielgtaylor/huma/v2"

	"github.com/authos/authos/platform/httpapi"
	"github.com/authos/authos/platform/redis"
)

// FlexibleBody is a request body accepted as JSON or as
// application/x-www-form-urlencoded (standard OAuth clients send forms).
type FlexibleBody struct {
	ContentType string `header:"Content-Type" hidden:"true"`
	RawBody     []byte `contentType:"application/x-www-form-urlencoded" doc:"Form fields, or the same fields as a JSON object (Content-Type: application/json)"`
}

// fields decodes the body into string fields.
func (b FlexibleBody) fields() (url.Values, error) {
	mt, _, _ := mime.ParseMediaType(b.ContentType)
	if mt == "application/x-www-form-urlencoded" {
		return url.ParseQuery(string(b.RawBody))
	}
	if len(b.RawBody) == 0 {
		return url.Values{}, nil
	}
	var m map[string]any
	if err := json.Unmarshal(b.RawBody, &m); err != nil {
		return nil, errors.New("invalid JSON body")
	}
	out := url.Values{}
	for k, v := range m {
		if s, ok := v.(string); ok {
			out.Set(k, s)
		}
	}
	return out, nil
}

// DeviceCodeOutput is the RFC 8628 device authorization response.
type DeviceCodeOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         struct {
		DeviceCode              string `json:"device_code"`
		UserCode                string `json:"user_code" doc:"XXXX-XXXX"`
		VerificationURI         string `json:"verification_uri"`
		VerificationURIComplete string `json:"verification_uri_complete"`
		ExpiresIn               int    `json:"expires_in"`
		Interval                int    `json:"interval"`
	}
}

// DeviceVerifyOutput is what the activation page learns from a user code.
type DeviceVerifyOutput struct {
	Body struct {
		OrgSlug            string   `json:"org_slug"`
		ServiceSlug        string   `json:"service_slug"`
		AvailableProviders []string `json:"available_providers"`
	}
}

// DeviceTokenOutput is the device's token (no refresh token: it stays on
// the server, spec §2.2).
type DeviceTokenOutput struct {
	CacheControl string `header:"Cache-Control"`
	Pragma       string `header:"Pragma"`
	Body         struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
}

// MFAVerifyRequest is POST /api/auth/mfa/verify.
type MFAVerifyRequest struct {
	ClientMeta
	Body struct {
		PreauthToken string `json:"preauth_token" maxLength:"8192"`
		Code         string `json:"code" maxLength:"20" doc:"6-digit TOTP code or a backup code XXXX-XXXX"`
		DeviceCodeID string `json:"device_code_id,omitempty" maxLength:"64"`
	}
}

// MFAVerifyOutput is the completed login.
type MFAVerifyOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         struct {
		AccessToken    string `json:"access_token"`
		RefreshToken   string `json:"refresh_token"`
		ExpiresIn      int    `json:"expires_in"`
		DeviceApproved bool   `json:"device_approved,omitempty"`
	}
}

func deviceError(status int, code, msg, oauthCode string) error {
	e := httpapi.NewError(status, code, msg)
	if oauthCode != "" {
		return e.WithOAuthError(oauthCode)
	}
	return e
}

// deviceHTTPError maps the device flow's errors: the AuthOS envelope with
// the RFC 8628 error code in error.
func deviceHTTPError(err error) error {
	var inactive *OrgNotActiveError
	switch {
	case errors.Is(err, ErrInvalidDeviceInput):
		return deviceError(http.StatusBadRequest, httpapi.CodeBadRequest, "Invalid request: client_id, org and service are required ([A-Za-z0-9_-], at most 500/100/100 characters)", "invalid_request")
	case errors.Is(err, ErrInvalidClientCredentials), errors.Is(err, ErrScopeNotFound):
		return deviceError(http.StatusBadRequest, httpapi.CodeBadRequest, "Invalid client credentials", "invalid_client")
	case errors.Is(err, ErrDeviceActivationMissing):
		return deviceError(http.StatusBadRequest, httpapi.CodeBadRequest, "Device activation URI not configured for this service", "invalid_client")
	case errors.As(err, &inactive):
		return deviceError(http.StatusForbidden, "ORGANIZATION_NOT_ACTIVE", "Organization is not active", "access_denied")
	case errors.Is(err, ErrInvalidGrantType):
		return deviceError(http.StatusBadRequest, httpapi.CodeBadRequest, "Invalid grant type", "unsupported_grant_type")
	case errors.Is(err, ErrInvalidDeviceCode):
		return deviceError(http.StatusBadRequest, httpapi.CodeBadRequest, "Invalid device code", "invalid_grant")
	case errors.Is(err, ErrInvalidClient):
		return deviceError(http.StatusUnauthorized, httpapi.CodeUnauthorized, "Invalid client", "invalid_client")
	case errors.Is(err, ErrDevicePending):
		return deviceError(http.StatusBadRequest, "DEVICE_CODE_PENDING", "Authorization pending", "authorization_pending")
	case errors.Is(err, ErrDeviceSlowDown):
		return deviceError(http.StatusBadRequest, "DEVICE_CODE_SLOW_DOWN", "Polling too fast: wait the interval between requests", "slow_down")
	case errors.Is(err, ErrDeviceCodeExpired):
		return deviceError(http.StatusBadRequest, "DEVICE_CODE_EXPIRED", "Device code has expired", "expired_token")
	case errors.Is(err, ErrDeviceDenied):
		return deviceError(http.StatusBadRequest, "DEVICE_CODE_DENIED", "The user denied the device", "access_denied")
	case errors.Is(err, ErrInvalidUserCodeFormat):
		return deviceError(http.StatusBadRequest, httpapi.CodeBadRequest, "Invalid user code format", "")
	case errors.Is(err, ErrInvalidUserCode):
		return deviceError(http.StatusBadRequest, httpapi.CodeBadRequest, "Invalid user code", "")
	case errors.Is(err, ErrDeviceAlreadyAuthorized):
		return deviceError(http.StatusBadRequest, httpapi.CodeBadRequest, "Device already authorized", "")
	}
	return toHTTPError(err)
}

func registerDeviceRoutes(api huma.API, s *Service, limiter *redis.Limiter) {
	write := func(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
		httpapi.WriteProblem(w, r, status, code, msg)
	}
	g := huma.NewGroup(api)
	g.UseSimpleModifier(func(op *huma.Operation) { op.Tags = []string{"Authentication"} })
	g.UseMiddleware(limiter.HumaMiddleware(api, redis.Rule{Name: "device", Rate: redis.DeviceFlowRate()}, write))

	huma.Register(g, huma.Operation{
		OperationID: "device-authorization", Method: http.MethodPost, Path: "/auth/device/code",
		Summary: "Start a device authorization (RFC 8628)",
		Description: "JSON or form body: client_id, org, service. The platform CLI uses org=platform, service=admin-cli, " +
			"client_id=platform-admin-cli. Codes live 15 minutes; poll /auth/token every `interval` seconds.",
	}, func(ctx context.Context, in *FlexibleBody) (*DeviceCodeOutput, error) {
		f, err := in.fields()
		if err != nil {
			return nil, deviceError(http.StatusBadRequest, httpapi.CodeBadRequest, err.Error(), "invalid_request")
		}
		d, err := s.StartDeviceAuthorization(ctx, f.Get("client_id"), f.Get("org"), f.Get("service"))
		if err != nil {
			return nil, deviceHTTPError(err)
		}
		out := &DeviceCodeOutput{CacheControl: "no-store"}
		out.Body.DeviceCode, out.Body.UserCode, out.Body.VerificationURI = d.DeviceCode, d.UserCode, d.VerificationURI
		out.Body.VerificationURIComplete, out.Body.ExpiresIn, out.Body.Interval = d.VerificationURIComplete, d.ExpiresIn, d.Interval
		return out, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "device-verify", Method: http.MethodPost, Path: "/auth/device/verify",
		Summary:     "Check a user code (activation page)",
		Description: "JSON or form body: user_code (XXXX-XXXX, case-insensitive). Rate limited against guessing.",
	}, func(ctx context.Context, in *FlexibleBody) (*DeviceVerifyOutput, error) {
		f, err := in.fields()
		if err != nil {
			return nil, deviceError(http.StatusBadRequest, httpapi.CodeBadRequest, err.Error(), "")
		}
		v, err := s.VerifyUserCode(ctx, f.Get("user_code"))
		if errors.Is(err, ErrScopeNotFound) {
			// The code's service is gone: 404, not a client-credentials error.
			return nil, toHTTPError(err)
		}
		if err != nil {
			return nil, deviceHTTPError(err)
		}
		out := &DeviceVerifyOutput{}
		out.Body.OrgSlug, out.Body.ServiceSlug = v.OrgSlug, v.ServiceSlug
		out.Body.AvailableProviders = append([]string{}, v.AvailableProviders...)
		return out, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "device-token", Method: http.MethodPost, Path: "/auth/token",
		Summary: "Poll for the device's token (RFC 8628)",
		Description: "JSON or form body: grant_type=urn:ietf:params:oauth:grant-type:device_code, client_id, device_code. " +
			"Errors keep the AuthOS envelope and carry the RFC 8628 code in `error` (authorization_pending, slow_down, " +
			"expired_token, access_denied) with the message in error_description.",
	}, func(ctx context.Context, in *DeviceTokenInput) (*DeviceTokenOutput, error) {
		f, err := in.fields()
		if err != nil {
			return nil, deviceError(http.StatusBadRequest, httpapi.CodeBadRequest, err.Error(), "invalid_request")
		}
		t, err := s.DeviceToken(ctx, f.Get("grant_type"), f.Get("client_id"), f.Get("device_code"), metaFrom(ctx, in.ClientMeta))
		if err != nil {
			return nil, deviceHTTPError(err)
		}
		out := &DeviceTokenOutput{CacheControl: "no-store", Pragma: "no-cache"}
		out.Body.AccessToken, out.Body.TokenType, out.Body.ExpiresIn = t.AccessToken, "Bearer", t.ExpiresIn
		return out, nil
	})

	mfa := huma.NewGroup(api)
	mfa.UseSimpleModifier(func(op *huma.Operation) { op.Tags = []string{"Authentication"} })
	mfa.UseMiddleware(limiter.HumaMiddleware(api, redis.Rule{Name: "mfa-verify", Rate: redis.MFAVerifyRate()}, write))
	huma.Register(mfa, huma.Operation{
		OperationID: "verify-mfa-login", Method: http.MethodPost, Path: "/api/auth/mfa/verify",
		Summary: "Complete a login with its second factor",
		Description: "Exchanges the pre-auth token of a login that needs MFA (5 minutes, single use) and a TOTP or backup " +
			"code for the session of that login's context (organization, service), or approves its device code.",
	}, func(ctx context.Context, in *MFAVerifyRequest) (*MFAVerifyOutput, error) {
		res, err := s.CompleteMFA(ctx, in.Body.PreauthToken, in.Body.Code, in.Body.DeviceCodeID, metaFrom(ctx, in.ClientMeta))
		if err != nil {
			return nil, stepUpHTTPError(err)
		}
		out := &MFAVerifyOutput{CacheControl: "no-store"}
		out.Body.AccessToken, out.Body.RefreshToken, out.Body.ExpiresIn = res.Tokens.AccessToken, res.Tokens.RefreshToken, res.Tokens.ExpiresIn
		out.Body.DeviceApproved = res.DeviceApproved
		return out, nil
	})
}

// DeviceTokenInput is POST /auth/token.
type DeviceTokenInput struct {
	ClientMeta
	FlexibleBody
}

func stepUpHTTPError(err error) error {
	switch {
	case errors.Is(err, ErrInvalidPreauth):
		return httpapi.NewError(http.StatusBadRequest, httpapi.CodeBadRequest, "Invalid pre-authentication token")
	case errors.Is(err, ErrPreauthUsed):
		return httpapi.NewError(http.StatusBadRequest, httpapi.CodeBadRequest, "Pre-authentication token already used")
	case errors.Is(err, ErrDeviceAlreadyAuthorized):
		return httpapi.NewError(http.StatusBadRequest, httpapi.CodeBadRequest, "Device already authorized")
	}
	return toHTTPError(err)
}
