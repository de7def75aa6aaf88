package tenancy

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/authos/authos/platform/httpapi"
)

// SMTPBody is an organization's SMTP settings (spec §4.3); the password is
// never returned.
type SMTPBody struct {
	Host       string  `json:"host" doc:"Empty when not configured"`
	Port       int     `json:"port" doc:"587 when not configured"`
	Username   string  `json:"username"`
	FromEmail  string  `json:"from_email"`
	FromName   *string `json:"from_name"`
	Configured bool    `json:"configured"`
}

// SMTPOutput is an organization's SMTP settings.
type SMTPOutput struct {
	Body SMTPBody
}

// SaveSMTPInput is POST /api/organizations/{org-slug}/smtp: the complete
// settings, which replace the saved ones. The fields are validated by the
// service, not the schema: a schema error would echo the request body,
// password included, in the problem's errors[].value.
type SaveSMTPInput struct {
	OrgSlugInput
	Body struct {
		Host      string  `json:"host,omitempty" doc:"Required. Host name or IP address, without scheme or port (at most 253 characters)"`
		Port      int     `json:"port,omitempty" doc:"1 to 65535, default 587; 465 uses implicit TLS, any other port STARTTLS"`
		Username  string  `json:"username,omitempty" doc:"At most 255 characters; empty: no SMTP AUTH"`
		Password  string  `json:"password,omitempty" doc:"Required with a username, at most 1024 bytes; stored encrypted, never returned"`
		FromEmail string  `json:"from_email,omitempty" doc:"Required. Sender address"`
		FromName  *string `json:"from_name,omitempty" doc:"At most 100 characters"`
	}
}

// SMTPMessageOutput is a confirmation message.
type SMTPMessageOutput struct {
	Body struct {
		Message string `json:"message"`
	}
}

func smtpMessage(msg string) *SMTPMessageOutput {
	out := &SMTPMessageOutput{}
	out.Body.Message = msg
	return out
}

// TestSMTPInput is POST /api/organizations/{org-slug}/smtp/test.
type TestSMTPInput struct {
	OrgSlugInput
	Body *struct {
		To string `json:"to,omitempty" maxLength:"254" doc:"Recipient; default the caller's email address"`
	}
}

// TestSMTPOutput is the outcome of a test email.
type TestSMTPOutput struct {
	Body struct {
		Success bool   `json:"success"`
		Message string `json:"message" doc:"The SMTP server's refusal or the network error on failure; never a secret"`
	}
}

func registerSMTPRoutes(api huma.API, st *Settings) {
	g := huma.NewGroup(api, "/api/organizations/{org-slug}/smtp")
	g.UseSimpleModifier(func(op *huma.Operation) { op.Tags = []string{orgTag} })
	bearer := httpapi.Security(httpapi.SchemeBearer)

	huma.Register(g, huma.Operation{
		OperationID: "get-organization-smtp", Method: http.MethodGet, Path: "", Security: bearer,
		Summary: "Get an organization's SMTP settings", Description: "Needs org.settings.manage. The password is never returned.",
	}, func(ctx context.Context, in *OrgSlugInput) (*SMTPOutput, error) {
		s, err := st.GetSMTP(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug)
		if err != nil {
			return nil, settingsHTTPError(err)
		}
		//lint:ignore S1016 the DTO and the domain type are kept apart on purpose
		return &SMTPOutput{Body: SMTPBody{Host: s.Host, Port: s.Port, Username: s.Username, FromEmail: s.FromEmail,
			FromName: s.FromName, Configured: s.Configured}}, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "save-organization-smtp", Method: http.MethodPost, Path: "", Security: bearer,
		Summary: "Save an organization's SMTP settings",
		Description: "Needs org.settings.manage on an active organization. The organization's emails are sent " +
			"through this server from then on. Publishes organization.smtp.configured.",
	}, func(ctx context.Context, in *SaveSMTPInput) (*SMTPMessageOutput, error) {
		b := in.Body
		err := st.SaveSMTP(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug, SMTPUpdate{
			Host: b.Host, Port: b.Port, Username: b.Username, Password: b.Password, FromEmail: b.FromEmail, FromName: b.FromName,
		})
		if err != nil {
			return nil, settingsHTTPError(err)
		}
		return smtpMessage("SMTP configuration saved successfully"), nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "delete-organization-smtp", Method: http.MethodDelete, Path: "", Security: bearer,
		Summary: "Delete an organization's SMTP settings",
		Description: "Needs org.settings.manage on an active organization. The organization's emails go through the " +
			"platform's SMTP server again. Publishes organization.smtp.removed.",
	}, func(ctx context.Context, in *OrgSlugInput) (*SMTPMessageOutput, error) {
		if err := st.DeleteSMTP(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug); err != nil {
			return nil, settingsHTTPError(err)
		}
		return smtpMessage("SMTP configuration deleted successfully. Organization will now use platform-level SMTP."), nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "test-organization-smtp", Method: http.MethodPost, Path: "/test", Security: bearer,
		Summary: "Send a test email through an organization's SMTP settings",
		Description: "Needs org.settings.manage on an active organization. A failed delivery answers 200 with " +
			"success false and the server's refusal or the network error; a host resolving to a loopback, " +
			"private, link-local or metadata address answers 400.",
	}, func(ctx context.Context, in *TestSMTPInput) (*TestSMTPOutput, error) {
		to := ""
		if in.Body != nil {
			to = in.Body.To
		}
		res, err := st.TestSMTP(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug, to)
		if err != nil {
			return nil, settingsHTTPError(err)
		}
		out := &TestSMTPOutput{}
		out.Body.Success, out.Body.Message = res.Success, res.Message
		return out, nil
	})
}

// settingsHTTPError maps the SMTP and custom domain errors, then the
// module's others.
func settingsHTTPError(err error) error {
	var refused *TargetRefusedError
	switch {
	case errors.As(err, &refused):
		return badRequest("SMTP " + refused.Error() + ". Loopback, private, link-local and cloud metadata addresses are refused.")
	case errors.Is(err, ErrDomainTaken):
		return conflict("This domain is already in use by another organization")
	case errors.Is(err, ErrNoCustomDomain):
		return badRequest("No custom domain configured")
	case errors.Is(err, ErrNoVerificationToken):
		return badRequest("No verification token found")
	case errors.Is(err, ErrDomainMembersOnly):
		return forbidden("You must be a member of this organization")
	case errors.Is(err, ErrSMTPNotConfigured):
		return badRequest("SMTP is not configured for this organization")
	case errors.Is(err, ErrEncryptionUnavailable):
		return httpapi.NewError(http.StatusInternalServerError, httpapi.CodeInternalServerError, "Encryption is not available").WithCause(err)
	}
	return toHTTPError(err)
}
