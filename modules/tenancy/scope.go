package tenancy

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/authos/authos/platform/crypto"
)

// The methods in this file serve other modules (through adapters in cmd/*):
// the identity module resolves org- and service-scoped logins with them and
// authenticates OAuth clients. They take no Actor: the caller is the
// platform itself, and the answers carry no secret.

// ScopeInfo is what a scoped login needs to know about its organization
// and, optionally, service. The organization's status is returned as is:
// the caller applies the active-organization gate (spec §1.6).
type ScopeInfo struct {
	OrgID     uuid.UUID
	OrgSlug   string
	OrgStatus OrgStatus
	// ServiceID is nil for an organization-only scope.
	ServiceID   *uuid.UUID
	ServiceSlug string
	// RedirectURIs are the service's registered redirect URIs, normalised;
	// match a candidate with MatchRedirectURI.
	RedirectURIs []string
	// MaxMAU is the monthly-active-user quota (<= 0 unlimited) and
	// AllowOverage whether exceeding it only logs, both from the tier's
	// features widened by the organization's overrides (spec §1.7).
	MaxMAU       int
	AllowOverage bool
	// What the hosted pages and /api/auth/context show (spec §2, §4.4).
	OrgName      string
	LogoURL      string
	PrimaryColor string
	ServiceName  string
	ServiceType  ServiceType
	// AllowedProviders are the social providers the tier (widened by the
	// organization's overrides) allows.
	AllowedProviders []string
	// OwnOAuthProviders are the providers the organization brought its own
	// OAuth app for (spec §4.3).
	OwnOAuthProviders []string
	// Service-only: its OAuth client id, device activation page ("" when
	// none) and the provider scopes it asks for (empty: the defaults).
	ClientID            string
	DeviceActivationURI string
	ProviderScopes      map[string][]string
}

// ClientInfo is a service as an OAuth client: its scope plus what the
// device flow and resource tokens need.
type ClientInfo struct {
	Scope               ScopeInfo
	ClientID            string
	ServiceType         ServiceType
	DeviceActivationURI string // "" when none is registered
	ResourceURIs        []string
}

// PublicClient reports whether the client authenticates without a secret
// (mobile and desktop services use PKCE instead, spec §2.2).
func (c ClientInfo) PublicClient() bool {
	return c.ServiceType == ServiceMobile || c.ServiceType == ServiceDesktop
}

// ResolveScope resolves an organization slug and an optional service slug
// (both case-insensitive). It returns ErrOrgNotFound for an unknown
// organization and ErrServiceNotFound for an unknown service of it.
func (s *Service) ResolveScope(ctx context.Context, orgSlug, serviceSlug string) (ScopeInfo, error) {
	orgSlug, serviceSlug = strings.TrimSpace(orgSlug), strings.TrimSpace(serviceSlug)
	if orgSlug == "" {
		return ScopeInfo{}, ErrOrgNotFound
	}
	org, err := s.store.OrgGetBySlug(ctx, orgSlug)
	if err != nil {
		return ScopeInfo{}, err
	}
	if serviceSlug == "" {
		return s.scopeInfo(ctx, org, nil)
	}
	app, err := s.store.ServiceGetBySlug(ctx, org.ID, serviceSlug)
	if err != nil {
		return ScopeInfo{}, err
	}
	return s.scopeInfo(ctx, org, &app)
}

// MembershipRole reports a user's role in an organization; member is false
// (and the role empty) when the user has no membership.
func (s *Service) MembershipRole(ctx context.Context, orgID, userID uuid.UUID) (role Role, member bool, err error) {
	m, err := s.store.MembershipGet(ctx, orgID, userID)
	switch {
	case errors.Is(err, ErrMemberNotFound):
		return "", false, nil
	case err != nil:
		return "", false, err
	}
	return m.Role, true, nil
}

// ServiceByClientID finds a service by its OAuth client id, or returns
// ErrServiceNotFound.
func (s *Service) ServiceByClientID(ctx context.Context, clientID string) (ClientInfo, error) {
	if clientID == "" {
		return ClientInfo{}, ErrServiceNotFound
	}
	app, err := s.store.ServiceGetByClientID(ctx, clientID)
	if err != nil {
		return ClientInfo{}, err
	}
	org, err := s.store.OrgGetByID(ctx, app.OrgID)
	if err != nil {
		return ClientInfo{}, err
	}
	scope, err := s.scopeInfo(ctx, org, &app)
	if err != nil {
		return ClientInfo{}, err
	}
	info := ClientInfo{Scope: scope, ClientID: app.ClientID, ServiceType: app.Type, ResourceURIs: slices.Clone(app.ResourceURIs)}
	if app.DeviceActivationURI != nil {
		info.DeviceActivationURI = *app.DeviceActivationURI
	}
	return info, nil
}

// VerifyClientSecret reports whether secret is the current client secret
// of clientID. The hashes are compared in constant time, and an unknown
// client costs the same comparison and answers false, not an error.
func (s *Service) VerifyClientSecret(ctx context.Context, clientID, secret string) (bool, error) {
	stored, err := s.store.ServiceSecretHash(ctx, clientID)
	switch {
	case errors.Is(err, ErrServiceNotFound):
		// Compare against a hash nothing matches, for uniform timing.
		_ = crypto.Equal(crypto.HashToken(secret), strings.Repeat("0", 64))
		return false, nil
	case err != nil:
		return false, err
	}
	ok := crypto.Equal(crypto.HashToken(secret), stored)
	return ok && secret != "", nil
}

// scopeInfo builds the scope of org and, when not nil, app.
func (s *Service) scopeInfo(ctx context.Context, org Organization, app *Application) (ScopeInfo, error) {
	f, err := s.orgFeatures(ctx, org)
	if err != nil {
		return ScopeInfo{}, err
	}
	info := ScopeInfo{OrgID: org.ID, OrgSlug: org.Slug, OrgStatus: org.Status, MaxMAU: f.MaxMAU, AllowOverage: f.AllowOverage,
		OrgName: org.Name, AllowedProviders: slices.Clone(f.AllowedSocialProviders)}
	if org.BrandLogoURL != nil {
		info.LogoURL = *org.BrandLogoURL
	}
	if org.BrandColor != nil {
		info.PrimaryColor = *org.BrandColor
	}
	own, err := s.OrgOAuthProviders(ctx, org.ID)
	if err != nil {
		return ScopeInfo{}, err
	}
	if len(own) > 0 {
		info.OwnOAuthProviders = own
	}
	if app != nil {
		id := app.ID
		info.ServiceID, info.ServiceSlug, info.RedirectURIs = &id, app.Slug, slices.Clone(app.RedirectURIs)
		info.ServiceName, info.ServiceType, info.ClientID = app.Name, app.Type, app.ClientID
		if app.DeviceActivationURI != nil {
			info.DeviceActivationURI = *app.DeviceActivationURI
		}
		info.ProviderScopes = map[string][]string{"github": slices.Clone(app.GithubScopes),
			"google": slices.Clone(app.GoogleScopes), "microsoft": slices.Clone(app.MicrosoftScopes)}
	}
	return info, nil
}

// orgFeatures returns the organization's features: its tier's, widened by
// its overrides. A missing tier row has no features.
func (s *Service) orgFeatures(ctx context.Context, org Organization) (Features, error) {
	tier, err := s.store.TierGet(ctx, org.TierID)
	switch {
	case errors.Is(err, ErrTierNotFound):
		return Features{}.Widen(org.FeatureOverrides), nil
	case err != nil:
		return Features{}, err
	}
	return tier.Features.Widen(org.FeatureOverrides), nil
}
