package compliance

import (
	"slices"

	"github.com/authos/authos/platform/events"
)

// EventType describes one entry of the Audit Events Reference (spec §12, §13.2).
type EventType struct {
	Value    string
	Label    string
	Category string
	// Stream is the audit trail the event is written to.
	Stream events.Stream
	// Subscribable events can be delivered to webhooks (spec §13.2).
	Subscribable bool
}

type catalogueRow struct {
	category     string
	stream       events.Stream
	subscribable bool
	values       []string
}

// catalogueRows is the reference, grouped as the spec groups it.
func catalogueRows() []catalogueRow {
	org, plat := events.StreamOrganization, events.StreamPlatform
	return []catalogueRow{
		{"User Management", org, true, []string{"user.signup.success", "user.login.success", "user.login.failed", "user.logout", "user.mfa.enabled", "user.mfa.disabled", "user.mfa.verify.success", "user.mfa.verify.failed", "user.invited", "user.joined", "user.removed", "user.role_updated"}},
		{"Service Management", org, true, []string{"service.created", "service.updated", "service.deleted", "service.oauth_credentials.updated"}},
		{"Organization Management", org, true, []string{"organization.updated", "organization.smtp.configured", "organization.smtp.removed"}},
		{"Plan Management", org, true, []string{"plan.created", "plan.updated", "plan.deleted"}},
		{"Subscription Management", org, true, []string{"subscription.created", "subscription.updated", "subscription.canceled"}},
		{"Invitation Management", org, true, []string{"invitation.accepted", "invitation.declined", "invitation.expired", "invitation.revoked"}},
		{"Security", org, true, []string{"security.mfa.enabled", "security.mfa.disabled", "security.password.changed"}},
		{"API Keys", org, true, []string{"api_key.created", "api_key.deleted"}},
		{"Custom Domains", org, true, []string{"domain.set", "domain.verified", "domain.deleted"}},
		{"Branding", org, true, []string{"branding.updated"}},
		// Organization audit actions that are not webhook events (spec §12.1).
		{"Organization", org, false, []string{"org.created", "org.updated", "org.deleted", "org.ownership_transferred", "settings.updated"}},
		{"Members", org, false, []string{"member.added", "member.removed", "member.role_changed", "user.anonymized"}},
		// domain.verification_lost: the daily re-check failed three times in
		// a row and the domain is no longer verified [X].
		{"Domain/branding", org, false, []string{"domain.removed", "domain.verification_lost"}},
		{"Services", org, false, []string{"service.secret_rotated"}},
		{"SSO/SAML", org, false, []string{"sso.configured", "sso.removed", "saml.configured", "saml.deleted", "saml.certificate_generated"}},
		{"API Keys", org, false, []string{"api_key.revoked"}},
		{"Webhooks", org, false, []string{"webhook.created", "webhook.updated", "webhook.deleted", "webhook.test.ping"}},
		{"SIEM", org, false, []string{"siem_config.created", "siem_config.updated", "siem_config.deleted"}},
		{"Provider tokens", org, false, []string{"provider_account.linked", "provider_account.unlinked", "provider_account.transferred", "provider_grant.created", "provider_token_request.completed", "provider_token.refreshed"}},
		// Platform audit actions (spec §12.3).
		{"Platform", plat, false, []string{"approve_organization", "reject_organization", "suspend_organization", "activate_organization", "update_organization_tier", "update_organization_features", "delete_organization", "promote_platform_owner", "demote_platform_owner", "force_disable_mfa", "user.impersonate"}},
	}
}

// Catalogue is the Audit Events Reference as one typed table, in reference order.
type Catalogue struct {
	list   []EventType
	byName map[string]EventType
}

// NewCatalogue builds the catalogue.
func NewCatalogue() *Catalogue {
	c := &Catalogue{byName: map[string]EventType{}}
	for _, row := range catalogueRows() {
		for _, v := range row.values {
			if _, dup := c.byName[v]; dup {
				continue
			}
			et := EventType{Value: v, Label: Label(v), Category: row.category, Stream: row.stream, Subscribable: row.subscribable}
			c.list = append(c.list, et)
			c.byName[v] = et
		}
	}
	return c
}

// Lookup returns the catalogue entry for an event name.
func (c *Catalogue) Lookup(value string) (EventType, bool) {
	et, ok := c.byName[value]
	return et, ok
}

// All returns every entry.
func (c *Catalogue) All() []EventType { return slices.Clone(c.list) }

// Subscribable returns the webhook allowlist (spec §13.2).
func (c *Catalogue) Subscribable() []EventType {
	var out []EventType
	for _, et := range c.list {
		if et.Subscribable {
			out = append(out, et)
		}
	}
	return out
}

// Label turns an event value into its display label: dots and underscores
// become spaces and each word is capitalised (spec §13.2).
func Label(value string) string {
	b := []byte(value)
	upper := true
	for i, ch := range b {
		switch {
		case ch == '.' || ch == '_':
			b[i] = ' '
			upper = true
		case upper && ch >= 'a' && ch <= 'z':
			b[i] = ch - 'a' + 'A'
			upper = false
		default:
			upper = false
		}
	}
	return string(b)
}
