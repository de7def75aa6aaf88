package tenancy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"golang.org/x/net/idna"

	"github.com/authos/authos/platform/db"
	"github.com/authos/authos/platform/events"
)

// featureCustomDomain is the display name of allow_custom_domain in the
// tier gate's denial (spec §1.7).
const featureCustomDomain = "Custom Domain"

// Re-check of verified domains.
const (
	// domainRecheckEvery is how long a verified domain goes unchecked.
	domainRecheckEvery = 24 * time.Hour
	// domainMaxFailures consecutive failed re-checks mark a domain
	// unverified.
	domainMaxFailures = 3
	// domainRecheckBatch domains are claimed at a time, and checked
	// domainRecheckParallel at a time.
	domainRecheckBatch    = 50
	domainRecheckParallel = 4
)

// originCacheTTL is how long the verified domains allowed by CORS are
// cached in-process.
const originCacheTTL = 30 * time.Second

// CustomDomain is an organization's custom domain as its members see it.
type CustomDomain struct {
	Domain   *string // nil: none configured
	Verified bool
}

// DomainSetup is what setting a custom domain answers: the token and how
// to publish it.
type DomainSetup struct {
	Domain string
	Token  string
}

// DomainVerification is the outcome of a verification: Method is "DNS" or
// "HTTP" when it succeeded; Message explains either way.
type DomainVerification struct {
	Verified bool
	Method   string
	Message  string
}

// manageDomain resolves the organization for a custom-domain change: the
// caller needs org.settings.manage or is a platform owner (spec §4.4).
func (st *Settings) manageDomain(ctx context.Context, s *Store, slug string, a Actor, lock bool) (access, error) {
	ac, err := st.svc.resolve(ctx, s, slug, a, lock, true)
	if err != nil {
		return access{}, err
	}
	if ac.membership != nil && !ac.can(CapOrgSettingsManage) && !a.IsPlatformOwner {
		return access{}, ErrCannotManageSettings
	}
	return ac, nil
}

// GetDomain returns an organization's custom domain to a member or a
// platform owner.
// Errors: ErrOrgNotFound, ErrDomainMembersOnly.
func (st *Settings) GetDomain(ctx context.Context, a Actor, slug string) (CustomDomain, error) {
	ac, err := st.svc.resolve(ctx, st.svc.store, slug, a, false, true)
	if errors.Is(err, ErrNotMember) {
		return CustomDomain{}, ErrDomainMembersOnly
	}
	if err != nil {
		return CustomDomain{}, err
	}
	return CustomDomain{Domain: ac.org.CustomDomain, Verified: ac.org.DomainVerified}, nil
}

// SetDomain gives an active organization a custom domain (spec §4.4),
// replacing any previous one: the domain starts unverified with a new
// random UUID token. The caller needs org.settings.manage or is a platform
// owner, and the tier (widened by the overrides) must allow custom
// domains. The domain is normalised to lowercase ASCII; domain.set is
// recorded in the same transaction.
//
// Errors: ErrOrgNotFound, ErrNotMember, ErrCannotManageSettings,
// *OrgNotActiveError, *FeatureNotAvailableError, *ValidationError,
// ErrDomainTaken.
func (st *Settings) SetDomain(ctx context.Context, a Actor, slug, domain string) (DomainSetup, error) {
	var out DomainSetup
	err := db.InTx(ctx, st.svc.pool, func(tx pgx.Tx) error {
		s := st.svc.store.WithTx(tx)
		ac, err := st.manageDomain(ctx, s, slug, a, true)
		if err != nil {
			return err
		}
		if err := requireActive(ac.org); err != nil {
			return err
		}
		features, err := st.svc.orgFeatures(ctx, ac.org)
		if err != nil {
			return err
		}
		if !features.AllowCustomDomain {
			return &FeatureNotAvailableError{Feature: featureCustomDomain}
		}
		d, err := NormalizeDomain(domain)
		if err != nil {
			return err
		}
		token := uuid.NewString()
		if _, err := s.OrgSetDomain(ctx, ac.org.ID, &d, &token, st.svc.now()); err != nil {
			return err
		}
		out = DomainSetup{Domain: d, Token: token}
		return st.svc.record(ctx, tx, orgEvent("domain.set", ac.org, a, ac.actorType(), "organization", ac.org.ID.String(),
			map[string]any{"domain": d}))
	})
	if err != nil {
		return DomainSetup{}, err
	}
	st.origins.invalidate()
	return out, nil
}

// DeleteDomain removes an organization's custom domain, which CORS stops
// allowing at once in this process and within originCacheTTL elsewhere.
// The caller needs org.settings.manage or is a platform owner. Removing an
// absent domain changes and records nothing; otherwise domain.deleted is
// recorded in the same transaction.
// Errors: ErrOrgNotFound, ErrNotMember, ErrCannotManageSettings.
func (st *Settings) DeleteDomain(ctx context.Context, a Actor, slug string) error {
	err := db.InTx(ctx, st.svc.pool, func(tx pgx.Tx) error {
		s := st.svc.store.WithTx(tx)
		ac, err := st.manageDomain(ctx, s, slug, a, true)
		if err != nil || ac.org.CustomDomain == nil {
			return err
		}
		if _, err := s.OrgSetDomain(ctx, ac.org.ID, nil, nil, st.svc.now()); err != nil {
			return err
		}
		return st.svc.record(ctx, tx, orgEvent("domain.deleted", ac.org, a, ac.actorType(), "organization", ac.org.ID.String(),
			map[string]any{"domain": *ac.org.CustomDomain, "was_verified": ac.org.DomainVerified}))
	})
	if err != nil {
		return err
	}
	st.origins.invalidate()
	return nil
}

// VerifyDomain checks an active organization's custom domain (spec §4.4):
// a TXT record _sso-verification.<domain> equal to the token, else the file
// http://<domain>/.well-known/sso-verification.txt containing it, fetched
// through the outbound policy without following redirects. A failed check
// is a result (Verified false, with what each method found), not an
// error. The checks run outside any transaction; the success is stored
// only if the domain and token did not change meanwhile, and records
// domain.verified {domain, method}. A domain already verified answers so
// without checking again.
//
// Errors: ErrOrgNotFound, ErrNotMember, ErrCannotManageSettings,
// *OrgNotActiveError, ErrNoCustomDomain, ErrNoVerificationToken.
func (st *Settings) VerifyDomain(ctx context.Context, a Actor, slug string) (DomainVerification, error) {
	ac, err := st.manageDomain(ctx, st.svc.store, slug, a, false)
	if err != nil {
		return DomainVerification{}, err
	}
	if err := requireActive(ac.org); err != nil {
		return DomainVerification{}, err
	}
	switch {
	case ac.org.CustomDomain == nil:
		return DomainVerification{}, ErrNoCustomDomain
	case ac.org.DomainToken == nil:
		return DomainVerification{}, ErrNoVerificationToken
	case ac.org.DomainVerified:
		return DomainVerification{Verified: true, Message: "Domain is already verified"}, nil
	}
	domain, token := *ac.org.CustomDomain, *ac.org.DomainToken
	check := st.net.verifyDomain(ctx, domain, token)
	if !check.ok() {
		return DomainVerification{Message: "Domain verification failed. " + check.problem()}, nil
	}
	method := strings.ToUpper(check.Method)
	err = db.InTx(ctx, st.svc.pool, func(tx pgx.Tx) error {
		s := st.svc.store.WithTx(tx)
		cur, err := s.OrgLockDomain(ctx, ac.org.ID)
		if err != nil {
			return err
		}
		if cur.Domain == nil || *cur.Domain != domain || cur.Token == nil || *cur.Token != token {
			return errDomainChanged
		}
		if cur.Verified {
			return nil
		}
		if err := s.OrgMarkDomainVerified(ctx, ac.org.ID, check.Method, st.svc.now()); err != nil {
			return err
		}
		return st.svc.record(ctx, tx, orgEvent("domain.verified", ac.org, a, ac.actorType(), "organization", ac.org.ID.String(),
			map[string]any{"domain": domain, "method": method}))
	})
	if errors.Is(err, errDomainChanged) {
		return DomainVerification{Message: "The custom domain changed during verification; verify it again"}, nil
	}
	if err != nil {
		return DomainVerification{}, err
	}
	st.origins.invalidate()
	via := map[string]string{methodDNS: "DNS TXT record", methodHTTP: "HTTP file"}[check.Method]
	return DomainVerification{Verified: true, Method: method, Message: "Domain verified successfully via " + via}, nil
}

// errDomainChanged: the domain or token changed while it was checked.
var errDomainChanged = errors.New("custom domain changed during verification")

// RecheckDomains re-checks the verified domains not checked for a day, in
// batches, until none is due or ctx ends. A domain that fails
// domainMaxFailures consecutive re-checks is marked unverified and records
// domain.verification_lost (a system event); a success resets the count.
// It returns how many domains were checked and how many were lost. It is
// idempotent: a claimed domain is stamped checked before its check runs,
// so concurrent runs skip it.
func (st *Settings) RecheckDomains(ctx context.Context) (checked, lost int, err error) {
	for ctx.Err() == nil {
		now := st.svc.now()
		due, err := st.svc.store.DomainsClaimDue(ctx, now.Add(-domainRecheckEvery), now, domainRecheckBatch)
		if err != nil {
			return checked, lost, fmt.Errorf("claim domains: %w", err)
		}
		if len(due) == 0 {
			break
		}
		results := make([]domainCheck, len(due))
		var wg sync.WaitGroup
		sem := make(chan struct{}, domainRecheckParallel)
		for i, d := range due {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				results[i] = st.net.verifyDomain(ctx, d.Domain, d.Token)
			})
		}
		wg.Wait()
		if ctx.Err() != nil {
			// Cut-short checks prove nothing; the claimed domains are due
			// again tomorrow.
			break
		}
		for i, d := range due {
			gone, err := st.recordRecheck(ctx, d, results[i])
			if err != nil {
				return checked, lost, err
			}
			checked++
			if gone {
				lost++
			}
		}
		if len(due) < domainRecheckBatch {
			break
		}
	}
	if lost > 0 {
		st.origins.invalidate()
	}
	return checked, lost, nil
}

// recordRecheck stores one re-check's outcome, unless the domain changed
// or stopped being verified meanwhile, and reports whether the domain lost
// its verification.
func (st *Settings) recordRecheck(ctx context.Context, d dueDomain, check domainCheck) (bool, error) {
	lost := false
	err := db.InTx(ctx, st.svc.pool, func(tx pgx.Tx) error {
		s := st.svc.store.WithTx(tx)
		cur, err := s.OrgLockDomain(ctx, d.OrgID)
		switch {
		case errors.Is(err, ErrOrgNotFound):
			return nil
		case err != nil:
			return err
		case !cur.Verified || cur.Domain == nil || *cur.Domain != d.Domain || cur.Token == nil || *cur.Token != d.Token:
			return nil
		case check.ok():
			if cur.Failures == 0 {
				return nil
			}
			return s.OrgSetDomainCheckFailures(ctx, d.OrgID, 0, false, st.svc.now())
		}
		failures := cur.Failures + 1
		if failures < domainMaxFailures {
			return s.OrgSetDomainCheckFailures(ctx, d.OrgID, failures, false, st.svc.now())
		}
		if err := s.OrgSetDomainCheckFailures(ctx, d.OrgID, failures, true, st.svc.now()); err != nil {
			return err
		}
		lost = true
		orgID := d.OrgID
		return st.svc.record(ctx, tx, events.Event{
			Type: "domain.verification_lost", Stream: events.StreamOrganization, OrgID: &orgID, ActorType: events.ActorSystem,
			TargetType: "organization", TargetID: orgID.String(),
			Details: map[string]any{"domain": d.Domain, "failed_checks": failures, "reason": check.problem()},
		})
	})
	return lost, err
}

// VerifiedOriginAllowed reports whether origin is https://<domain> for a
// verified custom domain of an active organization, for dynamic CORS
// (httpapi.Options.ExtraOriginAllowedFunc). The domains are cached
// in-process for 30 seconds, so requests do not query PostgreSQL; a change
// made through this process applies at once. Only the https scheme and the
// default port are allowed.
func (m *Module) VerifiedOriginAllowed(ctx context.Context, origin string) bool {
	host, ok := strings.CutPrefix(origin, "https://")
	if !ok || host == "" || strings.ContainsAny(host, ":/?#@") {
		return false
	}
	return m.settings.origins.contains(ctx, strings.ToLower(host))
}

// originCache is the in-process set of verified domains, reloaded when
// older than its TTL. One caller reloads at a time; the others keep using
// the previous set meanwhile. A failed reload keeps the previous set (or
// none) and is retried after a few seconds.
type originCache struct {
	ttl     time.Duration
	nowFunc func() time.Time
	load    func(ctx context.Context) ([]string, error)
	logger  *slog.Logger

	mu   sync.Mutex // serialises reloads
	snap atomic.Pointer[originSnapshot]
}

type originSnapshot struct {
	hosts   map[string]struct{}
	expires time.Time
}

// originRetryAfter is how soon a failed reload is tried again.
const originRetryAfter = 5 * time.Second

// originLoadTimeout bounds one reload.
const originLoadTimeout = 2 * time.Second

func newOriginCache(ttl time.Duration, nowFunc func() time.Time, load func(ctx context.Context) ([]string, error), logger *slog.Logger) *originCache {
	return &originCache{ttl: ttl, nowFunc: nowFunc, load: load, logger: logger}
}

// contains reports whether host is a verified domain, reloading the set
// when it is stale.
func (c *originCache) contains(ctx context.Context, host string) bool {
	snap := c.snap.Load()
	if snap == nil || !c.nowFunc().Before(snap.expires) {
		snap = c.reload(ctx, snap)
	}
	_, ok := snap.hosts[host]
	return ok
}

// reload loads the set unless another caller did while this one waited;
// with a stale set at hand, a caller that finds a reload running uses it.
func (c *originCache) reload(ctx context.Context, stale *originSnapshot) *originSnapshot {
	if stale != nil {
		if !c.mu.TryLock() {
			return stale
		}
	} else {
		c.mu.Lock()
	}
	defer c.mu.Unlock()
	if cur := c.snap.Load(); cur != nil && c.nowFunc().Before(cur.expires) {
		return cur
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), originLoadTimeout)
	defer cancel()
	now := c.nowFunc()
	domains, err := c.load(ctx)
	if err != nil {
		c.logger.WarnContext(ctx, "load verified domains for CORS", "err", err)
		next := &originSnapshot{hosts: map[string]struct{}{}, expires: now.Add(originRetryAfter)}
		if stale != nil {
			next.hosts = stale.hosts
		}
		c.snap.Store(next)
		return next
	}
	next := &originSnapshot{hosts: make(map[string]struct{}, len(domains)), expires: now.Add(c.ttl)}
	for _, d := range domains {
		next.hosts[strings.ToLower(d)] = struct{}{}
	}
	c.snap.Store(next)
	return next
}

// invalidate drops the set: the next lookup reloads it.
func (c *originCache) invalidate() { c.snap.Store(nil) }

// NormalizeDomain validates a custom domain and returns its normal form
// (spec §4.4): lowercase ASCII, without a trailing dot; internationalised
// names are given in their punycode (xn--) form, which must be valid IDNA.
// A scheme, port, path, IP address, single-label or local name is refused
// with a *ValidationError naming body.domain.
func NormalizeDomain(raw string) (string, error) {
	d := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(raw)), ".")
	invalid := func(msg string) (string, error) {
		return "", &ValidationError{Field: "body.domain", Message: msg}
	}
	switch {
	case d == "":
		return invalid("Domain is required")
	case strings.Contains(d, "://"):
		return invalid("Domain must not include a scheme (http:// or https://)")
	case strings.ContainsAny(d, "/?#\\"):
		return invalid("Domain must not include a path")
	case strings.ContainsFunc(d, func(r rune) bool { return r > 127 }):
		return invalid("Domain must be ASCII: give an internationalised name in its punycode (xn--) form")
	case strings.HasPrefix(d, "[") || isIP(d):
		return invalid("Domain must be a host name, not an IP address")
	case strings.Contains(d, ":"):
		return invalid("Domain must not include a port")
	case len(d) > maxHostLength:
		return invalid("Domain must be at most 253 characters")
	case !validHostName(d):
		return invalid("Domain must be a valid host name of letters, digits, hyphens and dots")
	}
	labels := strings.Split(d, ".")
	tld := labels[len(labels)-1]
	switch {
	case len(labels) < 2:
		return invalid("Domain must have at least two labels, e.g. auth.example.com")
	case strings.Trim(tld, "0123456789") == "":
		return invalid("Domain must end with a top-level domain that is not numeric")
	case tld == "localhost" || tld == "local" || tld == "internal" || tld == "invalid":
		return invalid("Domain must be a public domain name")
	}
	if ascii, err := idna.Registration.ToASCII(d); err != nil || ascii != d {
		return invalid("Domain is not a valid internationalised domain name")
	}
	return d, nil
}

// isIP reports whether s is an IP address literal.
func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}
