package config_test

import (
	"errors"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authos/authos/platform/config"
)

var update = flag.Bool("update", false, "rewrite the README configuration table")

func envFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoad(t *testing.T) {
	t.Parallel()

	t.Run("DevelopmentDefaultsAreValid", func(t *testing.T) {
		t.Parallel()
		cfg, err := config.Load(envFrom(map[string]string{"AUTHOS_ENV": "development"}))
		require.NoError(t, err)
		require.Equal(t, 8080, cfg.HTTP.Port)
		require.Equal(t, 8081, cfg.Worker.Port)
		require.Equal(t, "redis://localhost:6379/0", cfg.Redis.URL)
		require.Equal(t, config.DevelopmentEncryptionKey, cfg.EffectiveEncryptionKey())
		require.Equal(t, 24, cfg.JWT.ExpirationHours)
	})

	t.Run("ProductionRequiresEncryptionKey", func(t *testing.T) {
		t.Parallel()
		_, err := config.Load(envFrom(map[string]string{}))
		require.ErrorIs(t, err, config.ErrInvalid)
		require.Contains(t, err.Error(), "ENCRYPTION_KEY: required outside development")
	})

	t.Run("ReportsEveryProblemAtOnce", func(t *testing.T) {
		t.Parallel()
		_, err := config.Load(envFrom(map[string]string{
			"AUTHOS_ENV":                "production",
			"ENCRYPTION_KEY":            "abc",
			"PORT":                      "eighty",
			"BASE_URL":                  "ftp://x/",
			"BILLING_PROVIDER":          "paypal",
			"TRUSTED_PROXY_IPS":         "10.0.0.0/8,not-an-ip",
			"DATABASE_URL":              "mysql://x",
			"DB_MAX_CONNECTIONS":        "0",
			"PLATFORM_GITHUB_CLIENT_ID": "only-id",
		}))
		var cerr *config.Error
		require.True(t, errors.As(err, &cerr))
		msg := err.Error()
		for _, want := range []string{
			"ENCRYPTION_KEY: must be exactly 64 hex characters",
			"PORT: want an integer",
			"BASE_URL: must be an absolute http(s) origin",
			"BILLING_PROVIDER: must be none, disabled or stripe",
			`TRUSTED_PROXY_IPS: "not-an-ip"`,
			"DATABASE_URL: must be a postgres:// URL",
			"DB_MAX_CONNECTIONS: must be at least 1",
			"PLATFORM_GITHUB_CLIENT_ID and PLATFORM_GITHUB_CLIENT_SECRET: set both or neither",
		} {
			require.Contains(t, msg, want)
		}
		require.GreaterOrEqual(t, len(cerr.Problems), 8)
	})

	t.Run("ParsesTypes", func(t *testing.T) {
		t.Parallel()
		cfg, err := config.Load(envFrom(map[string]string{
			"AUTHOS_ENV":            "production",
			"ENCRYPTION_KEY":        strings.Repeat("ab", 32),
			"CORS_ALLOWED_ORIGINS":  "https://a.example, https://b.example",
			"REQUEST_TIMEOUT_SECS":  "2.5",
			"DISABLE_RATE_LIMITING": "true",
		}))
		require.NoError(t, err)
		require.Equal(t, []string{"https://a.example", "https://b.example"}, cfg.HTTP.CORSAllowedOrigins)
		require.Equal(t, "2.5s", cfg.HTTP.RequestTimeout.String())
		require.True(t, cfg.Limits.DisableRateLimiting)
	})

	t.Run("StripeNeedsItsSecrets", func(t *testing.T) {
		t.Parallel()
		_, err := config.Load(envFrom(map[string]string{"AUTHOS_ENV": "development", "BILLING_PROVIDER": "stripe"}))
		require.ErrorContains(t, err, "STRIPE_SECRET_KEY: required")
		require.ErrorContains(t, err, "STRIPE_WEBHOOK_SECRET: required")
	})
}

func TestMasked(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load(envFrom(map[string]string{
		"AUTHOS_ENV":     "development",
		"ENCRYPTION_KEY": strings.Repeat("cd", 32),
		"DATABASE_URL":   "postgres://authos:hunter2-secret@db:5432/authos",
		"SMTP_PASSWORD":  "smtp-secret-pw",
		"METRICS_TOKEN":  "metrics-secret",
	}))
	require.NoError(t, err)
	m := cfg.Masked()
	joined := strings.Join(func() []string {
		var out []string
		for k, v := range m {
			out = append(out, k+"="+v)
		}
		return out
	}(), "\n")
	for _, secret := range []string{"hunter2-secret", "smtp-secret-pw", "metrics-secret", strings.Repeat("cd", 32)} {
		require.NotContains(t, joined, secret)
	}
	require.Equal(t, "[REDACTED]", m["SMTP_PASSWORD"])
	require.Contains(t, m["DATABASE_URL"], "db:5432")
	require.Equal(t, "8080", m["PORT"])
}

func TestVars(t *testing.T) {
	t.Parallel()
	names := map[string]bool{}
	for _, v := range config.Vars() {
		require.False(t, names[v.Name], "duplicate variable %s", v.Name)
		names[v.Name] = true
		require.NotEmpty(t, v.Description, v.Name)
	}
	for _, want := range []string{"BASE_URL", "PLATFORM_DASHBOARD_BASE_URL", "ENCRYPTION_KEY", "DATABASE_URL", "REDIS_URL",
		"PLATFORM_OWNER_EMAIL", "SMTP_HOST", "STRIPE_SECRET_KEY", "PLATFORM_GITHUB_CLIENT_ID", "PLATFORM_MICROSOFT_USER_API_URL",
		"TRUSTED_PROXY_IPS", "METRICS_TOKEN", "WORKER_PORT", "PORT", "JWT_KID"} {
		require.True(t, names[want], want)
	}
}

// TestReadmeConfigTable keeps the README's table equal to the definitions.
// Regenerate with `go tool task docs:config`.
func TestReadmeConfigTable(t *testing.T) {
	const path = "../../README.md"
	const start, end = "<!-- config:start -->\n", "<!-- config:end -->"
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	readme := string(raw)
	i, j := strings.Index(readme, start), strings.Index(readme, end)
	require.True(t, i >= 0 && j > i, "README.md needs the config:start/config:end markers")
	want := config.MarkdownTable()
	if *update {
		readme = readme[:i+len(start)] + want + readme[j:]
		require.NoError(t, os.WriteFile(path, []byte(readme), 0o644))
		return
	}
	require.Equal(t, want, readme[i+len(start):j], "README configuration table is stale: run `go tool task docs:config`")
}
