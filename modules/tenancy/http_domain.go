package tenancy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/authos/authos/platform/httpapi"
)

// CustomDomainBody is an organization's custom domain (spec §4.4).
type CustomDomainBody struct {
	CustomDomain   *string `json:"custom_domain" doc:"Null when none is configured"`
	DomainVerified bool    `json:"domain_verified"`
}

// CustomDomainOutput is an organization's custom domain.
type CustomDomainOutput struct {
	Body CustomDomainBody
}

// SetDomainInput is POST /api/organizations/{org-slug}/domain.
type SetDomainInput struct {
	OrgSlugInput
	Body struct {
		Domain string `json:"domain" maxLength:"255" doc:"Host name such as auth.example.com: lowercase ASCII (punycode for internationalised names), no scheme, port or path"`
	}
}

// VerificationMethodBody is one way to prove control of a domain.
type VerificationMethodBody struct {
	Method       string `json:"method" enum:"DNS TXT Record,HTTP File"`
	Instructions string `json:"instructions"`
	RecordType   string `json:"record_type,omitempty"`
	RecordName   string `json:"record_name,omitempty"`
	RecordValue  string `json:"record_value"`
}

// DomainSetupOutput is the new domain's verification token and methods.
type DomainSetupOutput struct {
	Body struct {
		VerificationToken   string                   `json:"verification_token" format:"uuid"`
		VerificationMethods []VerificationMethodBody `json:"verification_methods"`
	}
}

// DomainVerificationOutput is the outcome of a verification; a failure is
// a 200 with verified false.
type DomainVerificationOutput struct {
	Body struct {
		Verified bool   `json:"verified"`
		Method   string `json:"method,omitempty" enum:"DNS,HTTP" doc:"How the domain was verified, on success"`
		Message  string `json:"message"`
	}
}

func toDomainSetupOutput(d DomainSetup) *DomainSetupOutput {
	out := &DomainSetupOutput{}
	out.Body.VerificationToken = d.Token
	record := domainTXTPrefix + d.Domain
	out.Body.VerificationMethods = []VerificationMethodBody{
		{
			Method:       "DNS TXT Record",
			Instructions: "Add a TXT record named " + record + " with the value " + d.Token + ", then verify the domain.",
			RecordType:   "TXT", RecordName: record, RecordValue: d.Token,
		},
		{
			Method: "HTTP File",
			Instructions: "Serve the value " + d.Token + " as a file at http://" + d.Domain + domainFilePath +
				" (HTTP, port 80, no redirect), then verify the domain.",
			RecordValue: d.Token,
		},
	}
	return out
}

func registerDomainRoutes(api huma.API, st *Settings) {
	g := huma.NewGroup(api, "/api/organizations/{org-slug}/domain")
	g.UseSimpleModifier(func(op *huma.Operation) { op.Tags = []string{orgTag} })
	bearer := httpapi.Security(httpapi.SchemeBearer)

	huma.Register(g, huma.Operation{
		OperationID: "get-organization-domain", Method: http.MethodGet, Path: "", Security: bearer,
		Summary: "Get an organization's custom domain", Description: "Members and platform owners.",
	}, func(ctx context.Context, in *OrgSlugInput) (*CustomDomainOutput, error) {
		d, err := st.GetDomain(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug)
		if err != nil {
			return nil, settingsHTTPError(err)
		}
		return &CustomDomainOutput{Body: CustomDomainBody{CustomDomain: d.Domain, DomainVerified: d.Verified}}, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "set-organization-domain", Method: http.MethodPost, Path: "", Security: bearer,
		Summary: "Set an organization's custom domain",
		Description: "Needs org.settings.manage (or a platform owner) on an active organization whose plan allows " +
			"Custom Domain. Replaces any previous domain; the new one is unverified, with a new token. Publishes domain.set.",
	}, func(ctx context.Context, in *SetDomainInput) (*DomainSetupOutput, error) {
		d, err := st.SetDomain(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug, in.Body.Domain)
		if err != nil {
			return nil, settingsHTTPError(err)
		}
		return toDomainSetupOutput(d), nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "delete-organization-domain", Method: http.MethodDelete, Path: "", Security: bearer,
		DefaultStatus: http.StatusNoContent,
		Summary:       "Remove an organization's custom domain",
		Description:   "Needs org.settings.manage or a platform owner. Publishes domain.deleted when a domain was removed.",
	}, func(ctx context.Context, in *OrgSlugInput) (*struct{}, error) {
		if err := st.DeleteDomain(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug); err != nil {
			return nil, settingsHTTPError(err)
		}
		return nil, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "verify-organization-domain", Method: http.MethodPost, Path: "/verify", Security: bearer,
		Summary: "Verify an organization's custom domain",
		Description: "Needs org.settings.manage (or a platform owner) on an active organization. Tries the TXT record " +
			"_sso-verification.<domain>, then http://<domain>/.well-known/sso-verification.txt (no redirects, no " +
			"private addresses). A failed check answers 200 with verified false. Publishes domain.verified.",
	}, func(ctx context.Context, in *OrgSlugInput) (*DomainVerificationOutput, error) {
		v, err := st.VerifyDomain(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug)
		if err != nil {
			return nil, settingsHTTPError(err)
		}
		out := &DomainVerificationOutput{}
		out.Body.Verified, out.Body.Method, out.Body.Message = v.Verified, v.Method, v.Message
		return out, nil
	})
}
