package tenancy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authos/authos/platform/crypto"
	"github.com/authos/authos/platform/db"
	"github.com/authos/authos/platform/events"
)

// ServiceType is the kind of client a service is (spec §5).
type ServiceType string

// Service types. Mobile and desktop services are public clients (PKCE, no
// secret); api services mostly use API keys and resource tokens.
const (
	ServiceWeb     ServiceType = "web"
	ServiceMobile  ServiceType = "mobile"
	ServiceDesktop ServiceType = "desktop"
	ServiceAPI     ServiceType = "api"
)

// ParseServiceType returns the service type named s, or a *ValidationError.
func ParseServiceType(s string) (ServiceType, error) {
	switch t := ServiceType(strings.ToLower(strings.TrimSpace(s))); t {
	case ServiceWeb, ServiceMobile, ServiceDesktop, ServiceAPI:
		return t, nil
	}
	return "", &ValidationError{Field: "body.service_type", Message: "Invalid service type. Must be one of: web, mobile, desktop, api"}
}

// Application is a service of spec §5: an application an organization
// registers, that is an OAuth client. (The name Service is taken by the
// module's business-rules type.) The client secret is never part of it:
// only its hash is stored, and only the store reads it.
type Application struct {
	ID                  uuid.UUID
	OrgID               uuid.UUID
	Slug                string
	Name                string
	Type                ServiceType
	ClientID            string
	RedirectURIs        []string // normalised, see ValidateRedirectURI
	DeviceActivationURI *string
	GithubScopes        []string
	GoogleScopes        []string
	MicrosoftScopes     []string
	ResourceURIs        []string
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// NewApplication is the input of CreateService. A nil RedirectURIs means
// none were given; an empty, non-nil one is refused.
type NewApplication struct {
	Slug                string
	Name                string
	Type                string
	RedirectURIs        []string
	DeviceActivationURI *string
	GithubScopes        []string
	GoogleScopes        []string
	MicrosoftScopes     []string
}

// ApplicationUpdate is the input of UpdateService: nil fields are left
// alone. An empty, non-nil RedirectURIs is refused; an empty
// DeviceActivationURI clears it.
type ApplicationUpdate struct {
	Name                *string
	Type                *string
	RedirectURIs        []string
	DeviceActivationURI *string
	GithubScopes        []string
	GoogleScopes        []string
	MicrosoftScopes     []string
}

func (u ApplicationUpdate) isZero() bool {
	return u.Name == nil && u.Type == nil && u.RedirectURIs == nil && u.DeviceActivationURI == nil &&
		u.GithubScopes == nil && u.GoogleScopes == nil && u.MicrosoftScopes == nil
}

// ServiceUsage is the organization's service count against its limit;
// Tier is the name of the organization's tier.
type ServiceUsage struct {
	Current int
	Max     int
	Tier    string
}

// CreatedApplication is what CreateService returns. ClientSecret is shown
// this once: only its hash is stored.
type CreatedApplication struct {
	App          Application
	ClientSecret string
	DefaultPlan  Plan
	Usage        ServiceUsage
}

// RotatedSecret is what RotateServiceSecret returns; the secret is shown
// this once.
type RotatedSecret struct {
	App          Application
	ClientSecret string
}

// ApplicationSummary is a listed service with its plan count and active
// subscription count.
type ApplicationSummary struct {
	App               Application
	PlanCount         int
	SubscriptionCount int
}

// ApplicationFilter selects a service listing.
type ApplicationFilter struct {
	Type   ServiceType // "" = any
	Limit  int
	Offset int
}

// ApplicationList is one page of services with the organization's usage.
type ApplicationList struct {
	Services []ApplicationSummary
	Total    int
	Usage    ServiceUsage
}

// clientSecretBytes is the entropy of a client secret (256 bits).
const clientSecretBytes = 32

// newClientSecret returns a fresh client secret and its stored hash.
func newClientSecret() (secret, hash string) {
	secret = crypto.RandomToken(clientSecretBytes)
	return secret, crypto.HashToken(secret)
}

// serviceAccess resolves the organization and the caller's membership and
// applies the active-organization gate (spec §1.6): every service route is
// behind it. Platform owners are not implicitly members here.
func (s *Service) serviceAccess(ctx context.Context, st *Store, slug string, a Actor, lock bool) (access, error) {
	ac, err := s.resolve(ctx, st, slug, a, lock, false)
	if err != nil {
		return access{}, err
	}
	if err := requireActive(ac.org); err != nil {
		return access{}, err
	}
	return ac, nil
}

// can reports whether the caller's role grants c.
func (ac access) can(c Capability) bool { return ac.membership != nil && ac.membership.Role.Grants(c) }

// serviceUsage counts the organization's services against max_services:
// the organization's override, else its tier's default, else 2 (spec §1.7).
func (s *Service) serviceUsage(ctx context.Context, st *Store, org Organization) (ServiceUsage, error) {
	n, err := st.ServiceCount(ctx, org.ID)
	if err != nil {
		return ServiceUsage{}, err
	}
	u := ServiceUsage{Current: n, Max: fallbackMaxServices, Tier: org.TierID}
	tier, err := st.TierGet(ctx, org.TierID)
	switch {
	case err == nil:
		u.Max, u.Tier = tier.DefaultMaxServices, tier.Name
	case !errors.Is(err, ErrTierNotFound):
		return ServiceUsage{}, err
	}
	if org.MaxServices != nil {
		u.Max = *org.MaxServices
	}
	return u, nil
}

// CreateService registers a service (spec §5): the caller needs
// services.create in an active organization that is below its service
// limit. The service gets a random client id and secret (the secret is
// returned this once and stored as its SHA-256) and a default plan "free";
// service.created and plan.created are recorded in the same transaction.
// Errors: ErrOrgNotFound, ErrNotMember, *OrgNotActiveError,
// ErrCannotCreateServices, *ValidationError / ValidationErrors,
// *ServiceLimitError, ErrServiceSlugTaken.
func (s *Service) CreateService(ctx context.Context, a Actor, orgSlug string, in NewApplication) (CreatedApplication, error) {
	var out CreatedApplication
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := s.store.WithTx(tx)
		// The organization row stays locked until the commit, so two
		// creations cannot both pass the limit.
		ac, err := s.serviceAccess(ctx, st, orgSlug, a, true)
		if err != nil {
			return err
		}
		if !ac.can(CapServicesCreate) {
			return ErrCannotCreateServices
		}
		app, err := validateNewApplication(in)
		if err != nil {
			return err
		}
		usage, err := s.serviceUsage(ctx, st, ac.org)
		if err != nil {
			return err
		}
		if usage.Current >= usage.Max {
			return &ServiceLimitError{Current: usage.Current, Max: usage.Max}
		}
		now := s.now()
		secret, hash := newClientSecret()
		app.ID, app.OrgID, app.ClientID, app.CreatedAt = newID(), ac.org.ID, uuid.NewString(), now
		if app, err = st.ServiceInsert(ctx, app, hash); err != nil {
			return err
		}
		plan, err := st.PlanInsert(ctx, Plan{
			ID: newID(), OrgID: ac.org.ID, ServiceID: app.ID, Name: "free", PriceCents: 0, Currency: "usd",
			Features: []string{}, IsDefault: true, CreatedAt: now,
		})
		if err != nil {
			return err
		}
		usage.Current++
		out = CreatedApplication{App: app, ClientSecret: secret, DefaultPlan: plan, Usage: usage}
		return s.record(ctx, tx,
			serviceEvent("service.created", ac, a, app, map[string]any{
				"service_slug": app.Slug, "service_name": app.Name, "service_type": string(app.Type), "client_id": app.ClientID,
			}),
			planEvent("plan.created", ac, a, app, plan, nil))
	})
	return out, err
}

// ListServices returns one page of an organization's services with the
// service usage. Members holding services.view see every service; other
// members see the services they hold a direct grant on, which is none
// until per-service grants exist (spec §4.2, §5.2).
// Errors: ErrOrgNotFound, ErrNotMember, *OrgNotActiveError.
func (s *Service) ListServices(ctx context.Context, a Actor, orgSlug string, f ApplicationFilter) (ApplicationList, error) {
	ac, err := s.serviceAccess(ctx, s.store, orgSlug, a, false)
	if err != nil {
		return ApplicationList{}, err
	}
	usage, err := s.serviceUsage(ctx, s.store, ac.org)
	if err != nil {
		return ApplicationList{}, err
	}
	out := ApplicationList{Services: []ApplicationSummary{}, Usage: usage}
	if !ac.can(CapServicesView) {
		return out, nil
	}
	out.Services, out.Total, err = s.store.ServiceList(ctx, ac.org.ID, f)
	return out, err
}

// GetService returns one service; the caller needs services.view.
// Errors: ErrOrgNotFound, ErrNotMember, *OrgNotActiveError,
// ErrCannotViewService, ErrServiceNotFound.
func (s *Service) GetService(ctx context.Context, a Actor, orgSlug, serviceSlug string) (Application, error) {
	ac, err := s.serviceAccess(ctx, s.store, orgSlug, a, false)
	if err != nil {
		return Application{}, err
	}
	if !ac.can(CapServicesView) {
		return Application{}, ErrCannotViewService
	}
	return s.store.ServiceGetBySlug(ctx, ac.org.ID, serviceSlug)
}

// UpdateService changes a service's name, type, redirect URIs, device
// activation URI or provider scopes; the caller needs services.manage. A
// request naming no field is refused; one that changes nothing records
// nothing. service.updated lists the changed fields.
// Errors: ErrOrgNotFound, ErrNotMember, *OrgNotActiveError,
// ErrCannotManageService, ErrNoFieldsToUpdate, ErrServiceNotFound,
// *ValidationError / ValidationErrors.
func (s *Service) UpdateService(ctx context.Context, a Actor, orgSlug, serviceSlug string, u ApplicationUpdate) (Application, error) {
	var out Application
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := s.store.WithTx(tx)
		ac, err := s.serviceAccess(ctx, st, orgSlug, a, false)
		if err != nil {
			return err
		}
		if !ac.can(CapServicesManage) {
			return ErrCannotManageService
		}
		if u.isZero() {
			return ErrNoFieldsToUpdate
		}
		cur, err := st.ServiceLockBySlug(ctx, ac.org.ID, serviceSlug)
		if err != nil {
			return err
		}
		next, changed, err := applyApplicationUpdate(cur, u)
		if err != nil {
			return err
		}
		out = cur
		if len(changed) == 0 {
			return nil
		}
		next.UpdatedAt = s.now()
		if out, err = st.ServiceSave(ctx, next); err != nil {
			return err
		}
		details := map[string]any{"service_slug": out.Slug, "service_name": out.Name, "changed_fields": changed}
		if slices.Contains(changed, "name") {
			details["old_name"] = cur.Name
		}
		return s.record(ctx, tx, serviceEvent("service.updated", ac, a, out, details))
	})
	return out, err
}

// RotateServiceSecret replaces a service's client secret: the new one is
// returned this once and the old one stops matching at the commit. The
// caller needs services.manage; service.secret_rotated is recorded.
// Errors: ErrOrgNotFound, ErrNotMember, *OrgNotActiveError,
// ErrCannotManageService, ErrServiceNotFound.
func (s *Service) RotateServiceSecret(ctx context.Context, a Actor, orgSlug, serviceSlug string) (RotatedSecret, error) {
	var out RotatedSecret
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := s.store.WithTx(tx)
		ac, err := s.serviceAccess(ctx, st, orgSlug, a, false)
		if err != nil {
			return err
		}
		if !ac.can(CapServicesManage) {
			return ErrCannotManageService
		}
		cur, err := st.ServiceLockBySlug(ctx, ac.org.ID, serviceSlug)
		if err != nil {
			return err
		}
		secret, hash := newClientSecret()
		app, err := st.ServiceSetSecretHash(ctx, ac.org.ID, cur.ID, hash, s.now())
		if err != nil {
			return err
		}
		out = RotatedSecret{App: app, ClientSecret: secret}
		return s.record(ctx, tx, serviceEvent("service.secret_rotated", ac, a, app,
			map[string]any{"service_slug": app.Slug, "client_id": app.ClientID}))
	})
	return out, err
}

// DeleteService deletes a service with its plans, subscriptions, sessions
// and identities; only the owner may, and not while the service has active
// subscriptions. service.deleted is recorded in the organization's trail.
// Errors: ErrOrgNotFound, ErrNotMember, *OrgNotActiveError,
// ErrOwnerOnlyServiceDelete, ErrServiceNotFound, ErrServiceHasSubscriptions.
func (s *Service) DeleteService(ctx context.Context, a Actor, orgSlug, serviceSlug string) error {
	var revoked []uuid.UUID
	var orgID uuid.UUID
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		st := s.store.WithTx(tx)
		ac, err := s.serviceAccess(ctx, st, orgSlug, a, false)
		if err != nil {
			return err
		}
		if ac.membership.Role != RoleOwner {
			return ErrOwnerOnlyServiceDelete
		}
		app, err := st.ServiceLockForDelete(ctx, ac.org.ID, serviceSlug)
		if err != nil {
			return err
		}
		n, err := st.ServiceActiveSubscriptions(ctx, ac.org.ID, app.ID)
		if err != nil {
			return err
		}
		if n > 0 {
			return ErrServiceHasSubscriptions
		}
		orgID = ac.org.ID
		if revoked, err = s.sessions.RevokeServiceSessionsTx(ctx, tx, ac.org.ID, app.ID, "service_deleted"); err != nil {
			return fmt.Errorf("revoke service sessions: %w", err)
		}
		if err := s.record(ctx, tx, serviceEvent("service.deleted", ac, a, app, map[string]any{
			"service_slug": app.Slug, "service_name": app.Name, "service_type": string(app.Type), "client_id": app.ClientID,
		})); err != nil {
			return err
		}
		return st.ServiceDelete(ctx, ac.org.ID, app.ID)
	})
	if err != nil {
		return err
	}
	// The service's API keys went with it: drop the organization's cached
	// keys on every replica (the others reload on their next use).
	s.forgetAPIKeys(ctx, orgKeys(orgID))
	return s.sessions.ForgetSessions(ctx, revoked)
}

// serviceEvent builds an organization-stream event about a service.
func serviceEvent(typ string, ac access, a Actor, app Application, details map[string]any) events.Event {
	return orgEvent(typ, ac.org, a, ac.actorType(), "service", app.ID.String(), details)
}

// ---- validation

// Scope list limits: provider scopes are short tokens without spaces.
const (
	maxScopes      = 50
	maxScopeLength = 256
)

// validateNewApplication checks and normalises a creation request.
func validateNewApplication(in NewApplication) (Application, error) {
	var errs ValidationErrors
	add := func(err error) { errs.add(err) }
	slug := strings.TrimSpace(in.Slug)
	add(validateSlug(slug))
	name, err := normalizeName(in.Name)
	add(err)
	typ, err := ParseServiceType(in.Type)
	add(err)
	app := Application{Slug: slug, Name: name, Type: typ}
	if in.RedirectURIs != nil {
		app.RedirectURIs, err = normalizeRedirectURIs(in.RedirectURIs)
		add(err)
	}
	if in.DeviceActivationURI != nil && strings.TrimSpace(*in.DeviceActivationURI) != "" {
		app.DeviceActivationURI, err = normalizeActivationURI(*in.DeviceActivationURI)
		add(err)
	}
	app.GithubScopes, err = normalizeScopes("body.github_scopes", in.GithubScopes)
	add(err)
	app.GoogleScopes, err = normalizeScopes("body.google_scopes", in.GoogleScopes)
	add(err)
	app.MicrosoftScopes, err = normalizeScopes("body.microsoft_scopes", in.MicrosoftScopes)
	add(err)
	return app, errs.orNil()
}

// applyApplicationUpdate returns cur with u applied and the names of the
// fields whose value changed.
func applyApplicationUpdate(cur Application, u ApplicationUpdate) (Application, []string, error) {
	next := cur
	var changed []string
	var errs ValidationErrors
	note := func(field string, err error, same bool) {
		if errs.add(err) && !same {
			changed = append(changed, field)
		}
	}
	if u.Name != nil {
		name, err := normalizeName(*u.Name)
		next.Name = name
		note("name", err, name == cur.Name)
	}
	if u.Type != nil {
		typ, err := ParseServiceType(*u.Type)
		next.Type = typ
		note("service_type", err, typ == cur.Type)
	}
	if u.RedirectURIs != nil {
		uris, err := normalizeRedirectURIs(u.RedirectURIs)
		next.RedirectURIs = uris
		note("redirect_uris", err, slices.Equal(uris, cur.RedirectURIs))
	}
	if u.DeviceActivationURI != nil {
		var uri *string
		var err error
		if strings.TrimSpace(*u.DeviceActivationURI) != "" {
			uri, err = normalizeActivationURI(*u.DeviceActivationURI)
		}
		next.DeviceActivationURI = uri
		note("device_activation_uri", err, equalPtr(uri, cur.DeviceActivationURI))
	}
	for _, f := range []struct {
		name string
		in   []string
		cur  []string
		dst  *[]string
	}{
		{"github_scopes", u.GithubScopes, cur.GithubScopes, &next.GithubScopes},
		{"google_scopes", u.GoogleScopes, cur.GoogleScopes, &next.GoogleScopes},
		{"microsoft_scopes", u.MicrosoftScopes, cur.MicrosoftScopes, &next.MicrosoftScopes},
	} {
		if f.in == nil {
			continue
		}
		scopes, err := normalizeScopes("body."+f.name, f.in)
		*f.dst = scopes
		note(f.name, err, slices.Equal(scopes, f.cur))
	}
	if len(errs) > 0 {
		return cur, nil, errs
	}
	return next, changed, nil
}

func equalPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// normalizeRedirectURIs validates a non-empty list of at most
// MaxRedirectURIs redirect URIs, normalises each and drops duplicates.
func normalizeRedirectURIs(in []string) ([]string, error) {
	const field = "body.redirect_uris"
	switch {
	case len(in) == 0:
		return nil, &ValidationError{Field: field, Message: "At least one redirect URI is required"}
	case len(in) > MaxRedirectURIs:
		return nil, &ValidationError{Field: field, Message: "At most " + strconv.Itoa(MaxRedirectURIs) + " redirect URIs are allowed"}
	}
	out := make([]string, 0, len(in))
	var errs ValidationErrors
	for i, raw := range in {
		uri, err := ValidateRedirectURI(raw)
		if err != nil {
			errs = append(errs, &ValidationError{Field: field + "[" + strconv.Itoa(i) + "]", Message: "Redirect URI " + err.Error()})
			continue
		}
		if !slices.Contains(out, uri) {
			out = append(out, uri)
		}
	}
	return out, errs.orNil()
}

// normalizeActivationURI validates a device activation URI like a
// redirect URI.
func normalizeActivationURI(raw string) (*string, error) {
	uri, err := ValidateRedirectURI(raw)
	if err != nil {
		return nil, &ValidationError{Field: "body.device_activation_uri", Message: "Device activation URI " + err.Error()}
	}
	return &uri, nil
}

// normalizeScopes validates a provider scope list: at most maxScopes
// entries of 1 to maxScopeLength printable ASCII characters without
// spaces; duplicates are dropped. A nil list stays nil.
func normalizeScopes(field string, in []string) ([]string, error) {
	if in == nil {
		return nil, nil
	}
	if len(in) > maxScopes {
		return nil, &ValidationError{Field: field, Message: "At most " + strconv.Itoa(maxScopes) + " scopes are allowed"}
	}
	out := make([]string, 0, len(in))
	for i, sc := range in {
		if !validScope(sc) {
			return nil, &ValidationError{Field: field + "[" + strconv.Itoa(i) + "]",
				Message: "A scope is 1 to " + strconv.Itoa(maxScopeLength) + " printable ASCII characters without spaces"}
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out, nil
}

func validScope(sc string) bool {
	if sc == "" || len(sc) > maxScopeLength {
		return false
	}
	for i := range len(sc) {
		if c := sc[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
