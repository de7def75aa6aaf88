package identity

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/authos/authos/platform/httpapi"
	"github.com/authos/authos/platform/redis"
)

// MFAStatusOutput is GET /api/user/mfa/status.
type MFAStatusOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         struct {
		Enabled        bool `json:"enabled"`
		HasBackupCodes bool `json:"has_backup_codes" doc:"Unused backup codes remain"`
	}
}

// MFASetupOutput is POST /api/user/mfa/setup: the secret is shown once.
type MFASetupOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         struct {
		Secret    string `json:"secret" doc:"Base32 TOTP secret, for manual entry"`
		QRCodeSVG string `json:"qr_code_svg" doc:"SVG document of the provisioning URI's QR code"`
		QRCodeURI string `json:"qr_code_uri" doc:"otpauth://totp/ provisioning URI"`
	}
}

// MFACodeRequest carries a second factor: a 6-digit TOTP code or an
// unused backup code.
type MFACodeRequest struct {
	ClientMeta
	Body struct {
		Code string `json:"code" minLength:"1" maxLength:"64" doc:"A 6-digit TOTP code or an unused backup code (XXXX-XXXX)"`
	}
}

// MFAEnableRequest is POST /api/user/mfa/verify.
type MFAEnableRequest struct {
	ClientMeta
	Body struct {
		Code string `json:"code" minLength:"1" maxLength:"64" doc:"A 6-digit code from the authenticator app"`
	}
}

// MFAEnableOutput is the answer of POST /api/user/mfa/verify: the backup
// codes are shown once.
type MFAEnableOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         struct {
		Enabled     bool     `json:"enabled"`
		BackupCodes []string `json:"backup_codes"`
	}
}

// BackupCodesOutput is a new set of backup codes, shown once.
type BackupCodesOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         struct {
		BackupCodes []string `json:"backup_codes"`
	}
}

// SuccessOutput is a `{success, message}` answer.
type SuccessOutput struct {
	Body struct {
		Success bool   `json:"success"`
		Message string `json:"message"`
	}
}

func success(msg string) *SuccessOutput {
	out := &SuccessOutput{}
	out.Body.Success, out.Body.Message = true, msg
	return out
}

// PlatformUserMFAInput names a user on the platform MFA endpoints.
type PlatformUserMFAInput struct {
	ClientMeta
	UserID string `path:"user-id" maxLength:"64"`
}

// PlatformMFAStatusOutput is GET /api/platform/users/{user-id}/mfa/status.
type PlatformMFAStatusOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         struct {
		Enabled        bool       `json:"enabled"`
		HasBackupCodes bool       `json:"has_backup_codes"`
		EnabledAt      *time.Time `json:"enabled_at,omitempty"`
	}
}

const (
	msgMFADisabled      = "MFA has been disabled"
	msgMFAForceDisabled = "MFA has been force-disabled for the user"
)

// registerMFARoutes registers the self-service MFA endpoints (spec §3.1)
// and the platform owner's (spec §14.1).
func registerMFARoutes(api huma.API, s *Service, limiter *redis.Limiter) {
	write := func(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
		httpapi.WriteProblem(w, r, status, code, msg)
	}
	g := huma.NewGroup(api, "/api/user/mfa")
	g.UseSimpleModifier(func(op *huma.Operation) {
		op.Tags = []string{"User Management"}
		op.Security = httpapi.Security(httpapi.SchemeBearer)
	})
	// Spec §1.8: one request per 300 ms, burst 5, for each account and for
	// each client address. The auth middleware runs first, so the account
	// is known here.
	perUser := func(r *http.Request) string {
		p, ok := httpapi.PrincipalFrom(r.Context())
		if !ok {
			return ""
		}
		return "user:" + p.UserID.String()
	}
	g.UseMiddleware(
		limiter.HumaMiddleware(api, redis.Rule{Name: redis.RuleSelfServiceMFA, Rate: redis.SelfServiceMFARate(), Key: perUser}, write),
		limiter.HumaMiddleware(api, redis.Rule{Name: redis.RuleSelfServiceMFA, Rate: redis.SelfServiceMFARate()}, write),
	)

	huma.Register(g, huma.Operation{
		OperationID: "get-mfa-status", Method: http.MethodGet, Path: "/status", Summary: "The caller's MFA status",
	}, func(ctx context.Context, _ *struct{}) (*MFAStatusOutput, error) {
		st, err := s.MFAStatus(ctx, httpapi.MustPrincipal(ctx).UserID)
		if err != nil {
			return nil, toHTTPError(err)
		}
		out := &MFAStatusOutput{CacheControl: "no-store"}
		out.Body.Enabled, out.Body.HasBackupCodes = st.Enabled, st.HasBackupCodes
		return out, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "setup-mfa", Method: http.MethodPost, Path: "/setup", Summary: "Start TOTP enrolment",
		Description: "Creates a new TOTP secret (replacing one not yet enabled) and returns it once, with its provisioning URI and QR code. MFA stays off until POST /api/user/mfa/verify.",
	}, func(ctx context.Context, in *struct{ ClientMeta }) (*MFASetupOutput, error) {
		setup, err := s.SetupMFA(ctx, httpapi.MustPrincipal(ctx).UserID, metaFrom(ctx, in.ClientMeta))
		if err != nil {
			return nil, toHTTPError(err)
		}
		out := &MFASetupOutput{CacheControl: "no-store"}
		out.Body.Secret, out.Body.QRCodeSVG, out.Body.QRCodeURI = setup.Secret, setup.QRCodeSVG, setup.QRCodeURI
		return out, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "enable-mfa", Method: http.MethodPost, Path: "/verify", Summary: "Enable MFA with a first TOTP code",
		Description: "Returns ten single-use backup codes, shown only once.",
	}, func(ctx context.Context, in *MFAEnableRequest) (*MFAEnableOutput, error) {
		codes, err := s.EnableMFA(ctx, httpapi.MustPrincipal(ctx).UserID, in.Body.Code, metaFrom(ctx, in.ClientMeta))
		if err != nil {
			return nil, toHTTPError(err)
		}
		out := &MFAEnableOutput{CacheControl: "no-store"}
		out.Body.Enabled, out.Body.BackupCodes = true, codes
		return out, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "regenerate-backup-codes", Method: http.MethodPost, Path: "/backup-codes/regenerate", Summary: "Replace the backup codes",
		Description: "Requires a current TOTP code or an unused backup code. Every previous backup code stops working.",
	}, func(ctx context.Context, in *MFACodeRequest) (*BackupCodesOutput, error) {
		codes, err := s.RegenerateBackupCodes(ctx, httpapi.MustPrincipal(ctx).UserID, in.Body.Code, metaFrom(ctx, in.ClientMeta))
		if err != nil {
			return nil, toHTTPError(err)
		}
		out := &BackupCodesOutput{CacheControl: "no-store"}
		out.Body.BackupCodes = codes
		return out, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "disable-mfa", Method: http.MethodDelete, Path: "", Summary: "Disable MFA",
		Description: "Requires a current TOTP code or an unused backup code. Deletes the TOTP secret and the backup codes.",
	}, func(ctx context.Context, in *MFACodeRequest) (*SuccessOutput, error) {
		if err := s.DisableMFA(ctx, httpapi.MustPrincipal(ctx).UserID, in.Body.Code, metaFrom(ctx, in.ClientMeta)); err != nil {
			return nil, toHTTPError(err)
		}
		return success(msgMFADisabled), nil
	})

	registerPlatformMFARoutes(api, s)
}

func registerPlatformMFARoutes(api huma.API, s *Service) {
	g := huma.NewGroup(api, "/api/platform")
	g.UseSimpleModifier(func(op *huma.Operation) {
		op.Tags = []string{"Platform Owner"}
		op.Security = httpapi.Security(httpapi.SchemeBearer)
	})
	actor := func(ctx context.Context) PlatformActor {
		p := httpapi.MustPrincipal(ctx)
		return PlatformActor{UserID: p.UserID, Email: p.Email, IsPlatformOwner: p.IsPlatformOwner}
	}

	huma.Register(g, huma.Operation{
		OperationID: "get-platform-user-mfa-status", Method: http.MethodGet, Path: "/users/{user-id}/mfa/status", Summary: "A user's MFA status",
	}, func(ctx context.Context, in *PlatformUserMFAInput) (*PlatformMFAStatusOutput, error) {
		st, err := s.PlatformMFAStatus(ctx, actor(ctx), pathUUID(in.UserID))
		if err != nil {
			return nil, platformMFAError(err)
		}
		out := &PlatformMFAStatusOutput{CacheControl: "no-store"}
		out.Body.Enabled, out.Body.HasBackupCodes, out.Body.EnabledAt = st.Enabled, st.HasBackupCodes, st.EnabledAt
		return out, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "force-disable-user-mfa", Method: http.MethodDelete, Path: "/users/{user-id}/mfa", Summary: "Force-disable a user's MFA",
		Description: "Deletes the user's TOTP secret and backup codes. Audited on the MFA and platform trails.",
	}, func(ctx context.Context, in *PlatformUserMFAInput) (*SuccessOutput, error) {
		if err := s.ForceDisableMFA(ctx, actor(ctx), pathUUID(in.UserID), metaFrom(ctx, in.ClientMeta)); err != nil {
			return nil, platformMFAError(err)
		}
		return success(msgMFAForceDisabled), nil
	})
}

// pathUUID parses a path id; anything else names no row (uuid.Nil), so
// the service answers its usual 404 after its authorization checks.
func pathUUID(raw string) uuid.UUID {
	id, err := uuid.Parse(raw)
	if err != nil {
		return uuid.Nil
	}
	return id
}

// platformMFAError maps the platform MFA endpoints' errors: an unknown
// user is a 404 here (elsewhere it means the caller's session is gone).
func platformMFAError(err error) error {
	if errors.Is(err, ErrUserNotFound) {
		return httpapi.NewError(http.StatusNotFound, httpapi.CodeNotFound, "User not found")
	}
	return toHTTPError(err)
}
