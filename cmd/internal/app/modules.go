package app

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"
	"github.com/riverqueue/river"

	"github.com/authos/authos/jobs"
	"github.com/authos/authos/modules/billing"
	"github.com/authos/authos/modules/compliance"
	"github.com/authos/authos/modules/federation"
	"github.com/authos/authos/modules/identity"
	"github.com/authos/authos/modules/tenancy"
	"github.com/authos/authos/platform/config"
	"github.com/authos/authos/platform/outbound"
)

// module is what every module exposes to the composition root.
type module interface {
	RegisterRoutes(api huma.API)
	RegisterWorkers(w *river.Workers)
	PeriodicJobs() []jobs.PeriodicJob
}

// modules holds the five modules, built in dependency order.
type modules struct {
	rdb        goredis.UniversalClient
	compliance *compliance.Module
	identity   *identity.Module
	tenancy    *tenancy.Module
	billing    *billing.Module
	federation *federation.Module

	stopMu    sync.Mutex
	stopFuncs []func()
}

// onStop registers f to run when the process stops.
func (m *modules) onStop(f func()) {
	m.stopMu.Lock()
	defer m.stopMu.Unlock()
	m.stopFuncs = append(m.stopFuncs, f)
}

// stop runs the registered stop functions, newest first, once.
func (m *modules) stop() {
	m.stopMu.Lock()
	fs := m.stopFuncs
	m.stopFuncs = nil
	m.stopMu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}

func (m *modules) all() []module {
	return []module{m.identity, m.tenancy, m.billing, m.federation, m.compliance}
}

// moduleDeps are the shared clients the modules are built from.
type moduleDeps struct {
	cfg    config.Config
	pool   *pgxpool.Pool
	rdb    goredis.UniversalClient
	queue  *jobs.Client // insert-only client (API); nil in the worker, whose jobs insert through their own client
	logger *slog.Logger
	// redisPrefix namespaces Redis keys (tests sharing one server).
	redisPrefix string
}

// buildModules wires the modules: compliance first, because every other
// module records its events through compliance's Recorder.
func buildModules(d moduleDeps) (*modules, error) {
	m := modules{rdb: d.rdb}
	ring, err := keyRing(d.cfg)
	if err != nil {
		return nil, err
	}
	if m.compliance, err = compliance.New(compliance.Deps{Pool: d.pool, Logger: d.logger}); err != nil {
		return nil, fmt.Errorf("build compliance: %w", err)
	}
	rec := m.compliance.Recorder()
	idCfg, err := identityConfig(d.cfg)
	if err != nil {
		return nil, err
	}
	idCfg.RedisKeyPrefix = d.redisPrefix
	if m.identity, err = identity.New(identity.Deps{
		Pool: d.pool, Redis: d.rdb, Queue: d.queue, KeyRing: ring, Recorder: rec, Logger: d.logger, Config: idCfg,
		HTTPClient: outbound.NewHTTPClient(outboundPolicy(d.cfg), 10*time.Second),
	}); err != nil {
		return nil, fmt.Errorf("build identity: %w", err)
	}
	if m.tenancy, err = tenancy.New(tenancy.Deps{
		Pool: d.pool, Logger: d.logger, Recorder: rec,
		Users:    tenancyUsers{id: m.identity.Service()},
		Sessions: tenancySessions{id: m.identity.Service()},
		EndUsers: tenancyEndUsers{id: m.identity.Service()},
		Queue:    d.queue,
		KeyRing:  ring,
		Redis:    d.rdb,
		Config: tenancy.Config{MaxOrgsPerUser: d.cfg.Limits.MaxOrgsPerUser, DashboardBaseURL: d.cfg.HTTP.DashboardBaseURL,
			Outbound: outboundPolicy(d.cfg), PageKey: pageKey(d.cfg), SecureCookies: strings.HasPrefix(d.cfg.HTTP.BaseURL, "https://")},
	}); err != nil {
		return nil, fmt.Errorf("build tenancy: %w", err)
	}
	m.identity.SetScopes(identityScopes{t: m.tenancy.Service()})
	m.identity.SetVerificationHook(invitationAcceptor{t: m.tenancy.Service()})
	m.identity.SetOAuthApps(m.tenancy.Service())
	if m.billing, err = billing.New(billing.Deps{
		Pool: d.pool, Logger: d.logger, Recorder: rec,
		Plans: billingPlans{t: m.tenancy.Service()}, Users: billingUsers{id: m.identity.Service()},
	}); err != nil {
		return nil, fmt.Errorf("build billing: %w", err)
	}
	m.tenancy.SetEndUserSubscriptions(tenancySubscriptions{b: m.billing.Service()})
	m.identity.SetServiceUnlinkHook(m.billing.Service())
	m.compliance.SetServiceAnalyticsSources(complianceUserStats{id: m.identity.Service()}, complianceSubscriptionStats{b: m.billing.Service()})
	if m.federation, err = federation.New(federation.Deps{Pool: d.pool, Logger: d.logger, Recorder: rec}); err != nil {
		return nil, fmt.Errorf("build federation: %w", err)
	}
	return &m, nil
}

func identityConfig(cfg config.Config) (identity.Config, error) {
	prev, err := identity.ParsePreviousPublicKeys(cfg.JWT.PreviousPublicKeysJSON)
	if err != nil {
		return identity.Config{}, err
	}
	keys := identity.KeyConfig{Algorithm: cfg.JWT.Algorithm, PreviousPublic: prev, ImportKID: cfg.JWT.KID}
	if cfg.JWT.PrivateKeyBase64 != "" {
		pem, err := base64.StdEncoding.DecodeString(cfg.JWT.PrivateKeyBase64)
		if err != nil {
			return identity.Config{}, fmt.Errorf("JWT_PRIVATE_KEY_BASE64: %w", err)
		}
		keys.ImportPrivatePEM = pem
	}
	return identity.Config{
		BaseURL:           cfg.HTTP.BaseURL,
		DashboardBaseURL:  cfg.HTTP.DashboardBaseURL,
		AccessLifetime:    time.Duration(cfg.JWT.ExpirationHours) * time.Hour,
		RefreshLifetime:   30 * 24 * time.Hour,
		Keys:              keys,
		Argon2MemoryKiB:   uint32(cfg.Password.Argon2MemoryKiB),
		Argon2Iterations:  uint32(cfg.Password.Argon2Iterations),
		Argon2Parallelism: uint8(cfg.Password.Argon2Parallelism),
		HashConcurrency:   cfg.Password.HashConcurrency,
		OwnerEmail:        cfg.Owner.Email,
		OwnerPassword:     cfg.Owner.Password,
		EmailEnabled:      cfg.SMTP.Host != "",
		LockoutAttempts:   cfg.Password.LockoutAttempts,
		LockoutDuration:   cfg.Password.LockoutDuration,
		RateLimits:        !cfg.Limits.DisableRateLimiting,
		Providers: map[string]identity.ProviderConfig{
			"github": providerConfig(cfg.OAuth.GitHub), "google": providerConfig(cfg.OAuth.Google), "microsoft": providerConfig(cfg.OAuth.Microsoft),
		},
		PageKey: pageKey(cfg),
	}, nil
}

func providerConfig(p config.Provider) identity.ProviderConfig {
	return identity.ProviderConfig{ClientID: p.ClientID, ClientSecret: p.ClientSecret, RedirectURI: p.RedirectURI,
		AuthURL: p.AuthURL, TokenURL: p.TokenURL, UserAPIURL: p.UserAPIURL}
}

// pageKey derives the hosted pages' CSRF key from the encryption key, so
// every replica shares it without another secret to configure.
func pageKey(cfg config.Config) []byte {
	m := hmac.New(sha256.New, []byte(cfg.Security.EncryptionKey))
	m.Write([]byte("authos hosted pages csrf v1"))
	return m.Sum(nil)
}

// outboundPolicy is the SSRF policy of every outbound connection.
func outboundPolicy(cfg config.Config) outbound.Policy {
	return outbound.Policy{AllowPrivate: cfg.Security.OutboundAllowPrivate}
}
