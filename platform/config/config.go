// Package config loads AuthOS settings from the environment.
//
// Every setting is a field of Config whose `env` tag names its variable; the
// `default`, `desc` and `secret` tags give its development default, its
// documentation and whether it must be masked. The loader, the startup log
// and the README's configuration table are all generated from these tags, so
// they cannot drift apart. Validate reports every problem at once.
package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Environments.
const (
	EnvDevelopment = "development"
	EnvTest        = "test"
	EnvProduction  = "production"
)

// Config is the whole process configuration. cmd/* parses it once and passes
// values (never the struct) into constructors.
type Config struct {
	Env       string `env:"AUTHOS_ENV" default:"production" desc:"development, test or production. Outside development ENCRYPTION_KEY and explicit URLs are required."`
	LogLevel  string `env:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error."`
	LogFormat string `env:"LOG_FORMAT" default:"json" desc:"json or text."`

	HTTP     HTTP
	Database Database
	Redis    Redis
	Security Security
	JWT      JWT
	Owner    Owner
	SMTP     SMTP
	Billing  Billing
	OAuth    OAuth
	Worker   Worker
	Metrics  Metrics
	Limits   Limits
	Password Password
}

// HTTP configures the API server.
type HTTP struct {
	Host                 string        `env:"SERVER_HOST" default:"0.0.0.0" desc:"Interface the API listens on."`
	Port                 int           `env:"PORT" default:"8080" desc:"API port."`
	BaseURL              string        `env:"BASE_URL" default:"http://localhost:8080" desc:"Public API origin, no trailing slash: JWT iss, OAuth callbacks, SAML entity ids. Required in production."`
	DashboardBaseURL     string        `env:"PLATFORM_DASHBOARD_BASE_URL" default:"http://localhost:8080" desc:"Origin used in emailed links and device activation. Required in production."`
	FullWebClientBaseURL string        `env:"FULL_WEB_CLIENT_BASE_URL" desc:"Optional secondary web client origin (allowed by CORS)."`
	CORSAllowedOrigins   []string      `env:"CORS_ALLOWED_ORIGINS" desc:"Comma-separated extra origins allowed by CORS (verified custom domains are added automatically)."`
	TrustProxyHeaders    bool          `env:"TRUST_PROXY_HEADERS" default:"true" desc:"Honour X-Forwarded-For / X-Real-IP, but only from TRUSTED_PROXY_IPS."`
	TrustedProxyIPs      []string      `env:"TRUSTED_PROXY_IPS" desc:"Comma-separated IPs or CIDRs of reverse proxies whose forwarded headers are believed. Empty: none."`
	MaxBodyBytes         int64         `env:"MAX_REQUEST_BODY_BYTES" default:"1048576" desc:"Largest accepted request body; larger bodies get 413."`
	RequestTimeout       time.Duration `env:"REQUEST_TIMEOUT_SECS" default:"30" unit:"s" desc:"Per-request handler timeout."`
	ShutdownTimeout      time.Duration `env:"SHUTDOWN_TIMEOUT_SECS" default:"25" unit:"s" desc:"Grace period for in-flight requests and jobs on SIGTERM."`
}

// Database configures PostgreSQL.
type Database struct {
	URL         string        `env:"DATABASE_URL" default:"postgres://authos:authos@localhost:5432/authos?sslmode=disable" secret:"url" desc:"PostgreSQL connection URL."`
	MaxConns    int           `env:"DB_MAX_CONNECTIONS" default:"20" desc:"Pool size per process."`
	MinConns    int           `env:"DB_MIN_CONNECTIONS" default:"0" desc:"Connections kept open when idle."`
	IdleTimeout time.Duration `env:"DB_IDLE_TIMEOUT_SECS" default:"600" unit:"s" desc:"Close idle connections after this long."`
	MaxLifetime time.Duration `env:"DB_MAX_LIFETIME_SECS" default:"1800" unit:"s" desc:"Recycle connections after this long."`
}

// Redis configures Redis.
type Redis struct {
	URL string `env:"REDIS_URL" default:"redis://localhost:6379/0" secret:"url" desc:"Redis URL (rate limits, session cache)."`
}

// Security holds the encryption settings.
type Security struct {
	EncryptionKey          string `env:"ENCRYPTION_KEY" secret:"true" desc:"64 hex chars (AES-256-GCM) encrypting tenant secrets. Required outside development."`
	EncryptionKeyID        string `env:"ENCRYPTION_KEY_ID" default:"k1" desc:"Id stored with every ciphertext made under ENCRYPTION_KEY."`
	PreviousEncryptionKeys string `env:"ENCRYPTION_PREVIOUS_KEYS" secret:"true" desc:"Comma-separated id:hexkey pairs still accepted for decryption during a key rotation."`
	OutboundAllowPrivate   bool   `env:"OUTBOUND_ALLOW_PRIVATE" default:"false" desc:"Let outbound HTTP/SMTP reach loopback and private addresses (development and tests only)."`
}

// JWT configures access-token signing (used by the identity module).
type JWT struct {
	Algorithm              string `env:"JWT_ALGORITHM" default:"ES256" desc:"ES256 or RS256."`
	PrivateKeyBase64       string `env:"JWT_PRIVATE_KEY_BASE64" secret:"true" desc:"Base64 of a PEM private key to import as the active signing key (else one is generated and stored encrypted)."`
	PublicKeyBase64        string `env:"JWT_PUBLIC_KEY_BASE64" desc:"Base64 of the PEM public key matching JWT_PRIVATE_KEY_BASE64."`
	KID                    string `env:"JWT_KID" desc:"Key id of the imported key; required with JWT_PRIVATE_KEY_BASE64."`
	PreviousPublicKeysJSON string `env:"JWT_PREVIOUS_PUBLIC_KEYS_JSON" desc:"{kid: base64-PEM} of previous public keys still published in the JWKS (max 10)."`
	ExpirationHours        int    `env:"JWT_EXPIRATION_HOURS" default:"24" desc:"Access-token lifetime in hours."`
}

// Owner bootstraps the platform owner.
type Owner struct {
	Email    string `env:"PLATFORM_OWNER_EMAIL" desc:"This user becomes platform owner at start or registration."`
	Password string `env:"PLATFORM_OWNER_PASSWORD" secret:"true" desc:"Initial password for PLATFORM_OWNER_EMAIL; applied once, never overwrites an existing password."`
}

// SMTP configures the platform mail server.
type SMTP struct {
	Host      string `env:"SMTP_HOST" desc:"SMTP server. Without it registration and other mail-sending flows are refused."`
	Port      int    `env:"SMTP_PORT" default:"587" desc:"SMTP port."`
	Username  string `env:"SMTP_USERNAME" desc:"SMTP user."`
	Password  string `env:"SMTP_PASSWORD" secret:"true" desc:"SMTP password."`
	FromEmail string `env:"SMTP_FROM_EMAIL" default:"noreply@authos.local" desc:"Sender address."`
	FromName  string `env:"SMTP_FROM_NAME" default:"AuthOS" desc:"Sender name."`
	TLS       string `env:"SMTP_TLS" default:"starttls" desc:"starttls (upgrade when offered, required when credentials are set), tls (implicit) or none."`
}

// Billing configures the billing provider.
type Billing struct {
	Provider         string `env:"BILLING_PROVIDER" default:"none" desc:"none, disabled or stripe (anything else aborts startup)."`
	StripeSecretKey  string `env:"STRIPE_SECRET_KEY" secret:"true" desc:"Stripe API key; required when BILLING_PROVIDER=stripe."`
	StripeWebhookKey string `env:"STRIPE_WEBHOOK_SECRET" secret:"true" desc:"Stripe webhook signing secret; required when BILLING_PROVIDER=stripe."`
	StripeAPIBaseURL string `env:"STRIPE_API_BASE_URL" desc:"Override the Stripe API origin (stripe-mock in tests)."`
}

// OAuth holds the platform social-login apps.
type OAuth struct {
	GitHub    Provider `prefix:"PLATFORM_GITHUB_"`
	Google    Provider `prefix:"PLATFORM_GOOGLE_"`
	Microsoft Provider `prefix:"PLATFORM_MICROSOFT_"`
}

// Provider is one platform OAuth app; the URL overrides exist for tests and proxies.
type Provider struct {
	ClientID     string `env:"CLIENT_ID" desc:"OAuth client id."`
	ClientSecret string `env:"CLIENT_SECRET" secret:"true" desc:"OAuth client secret."`
	RedirectURI  string `env:"REDIRECT_URI" desc:"Callback URL registered with the provider."`
	AuthURL      string `env:"AUTH_URL" desc:"Override of the authorize endpoint."`
	TokenURL     string `env:"TOKEN_URL" desc:"Override of the token endpoint."`
	UserAPIURL   string `env:"USER_API_URL" desc:"Override of the user-info API."`
}

// Worker configures the River worker process.
type Worker struct {
	Port             int `env:"WORKER_PORT" default:"8081" desc:"Port of the worker's /health/live and /health/ready."`
	DefaultWorkers   int `env:"WORKER_DEFAULT_CONCURRENCY" default:"10" desc:"Max concurrent jobs on the default queue."`
	EmailWorkers     int `env:"WORKER_EMAIL_CONCURRENCY" default:"5" desc:"Max concurrent jobs on the email queue."`
	WebhookWorkers   int `env:"WORKER_WEBHOOKS_CONCURRENCY" default:"20" desc:"Max concurrent jobs on the webhooks queue."`
	ExportWorkers    int `env:"WORKER_EXPORTS_CONCURRENCY" default:"2" desc:"Max concurrent jobs on the exports queue."`
	AnalyticsWorkers int `env:"WORKER_ANALYTICS_CONCURRENCY" default:"2" desc:"Max concurrent jobs on the analytics queue."`
}

// Metrics configures /metrics.
type Metrics struct {
	Token   string `env:"METRICS_TOKEN" secret:"true" desc:"When set, /metrics requires Authorization: Bearer <token>."`
	Enabled bool   `env:"METRICS_ENABLED" default:"true" desc:"Serve /metrics; false answers 404."`
}

// Limits holds abuse limits.
type Limits struct {
	DisableRateLimiting bool `env:"DISABLE_RATE_LIMITING" default:"false" desc:"Turn the Redis rate limits off (load tests only)."`
	MaxOrgsPerUser      int  `env:"MAX_ORGS_PER_USER" default:"5" desc:"Organizations one user may create."`
}

// Password configures password hashing and login lockout.
type Password struct {
	Argon2MemoryKiB   int           `env:"ARGON2_MEMORY_KIB" default:"19456" desc:"Argon2id memory per hash in KiB (OWASP: 19456)."`
	Argon2Iterations  int           `env:"ARGON2_ITERATIONS" default:"2" desc:"Argon2id iterations (OWASP: 2)."`
	Argon2Parallelism int           `env:"ARGON2_PARALLELISM" default:"1" desc:"Argon2id lanes (OWASP: 1)."`
	HashConcurrency   int           `env:"PASSWORD_HASH_CONCURRENCY" default:"0" desc:"Concurrent password hashes per process (memory = this × ARGON2_MEMORY_KIB); 0 means one per CPU."`
	LockoutAttempts   int           `env:"LOGIN_LOCKOUT_ATTEMPTS" default:"10" desc:"Failed logins that lock an account (per email and scope)."`
	LockoutDuration   time.Duration `env:"LOGIN_LOCKOUT_SECS" default:"900" unit:"s" desc:"How long a locked account stays locked."`
}

// Var describes one environment variable, as generated from the struct tags.
type Var struct {
	Name        string
	Default     string
	Description string
	Secret      bool
}

// Vars lists every environment variable Config reads, in declaration order.
func Vars() []Var {
	var out []Var
	walk(reflect.TypeFor[Config](), "", func(f reflect.StructField, name string) {
		out = append(out, Var{
			Name:        name,
			Default:     f.Tag.Get("default"),
			Description: f.Tag.Get("desc"),
			Secret:      f.Tag.Get("secret") != "",
		})
	})
	return out
}

func walk(t reflect.Type, prefix string, fn func(f reflect.StructField, name string)) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() {
			walk(f.Type, prefix+f.Tag.Get("prefix"), fn)
			continue
		}
		fn(f, prefix+f.Tag.Get("env"))
	}
}

// Load reads the configuration through getenv (os.Getenv in production,
// a map in tests), then validates it. The error lists every problem.
func Load(getenv func(string) string) (Config, error) {
	var c Config
	var problems []string
	loadStruct(reflect.ValueOf(&c).Elem(), "", getenv, &problems)
	problems = append(problems, c.validate()...)
	if len(problems) > 0 {
		return c, &Error{Problems: problems}
	}
	return c, nil
}

// Error lists every configuration problem.
type Error struct{ Problems []string }

func (e *Error) Error() string {
	return "invalid configuration:\n  - " + strings.Join(e.Problems, "\n  - ")
}

func loadStruct(v reflect.Value, prefix string, getenv func(string) string, problems *[]string) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() {
			loadStruct(fv, prefix+f.Tag.Get("prefix"), getenv, problems)
			continue
		}
		name := prefix + f.Tag.Get("env")
		raw := strings.TrimSpace(getenv(name))
		if raw == "" {
			raw = f.Tag.Get("default")
		}
		if raw == "" {
			continue
		}
		if err := set(fv, f, raw); err != nil {
			*problems = append(*problems, fmt.Sprintf("%s: %v", name, err))
		}
	}
}

func set(fv reflect.Value, f reflect.StructField, raw string) error {
	switch {
	case f.Type == reflect.TypeFor[time.Duration]():
		n, err := strconv.ParseFloat(raw, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("want a non-negative number of seconds, got %q", raw)
		}
		fv.SetInt(int64(n * float64(time.Second)))
	case f.Type.Kind() == reflect.String:
		fv.SetString(raw)
	case f.Type.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", raw)
		}
		fv.SetBool(b)
	case f.Type.Kind() == reflect.Int || f.Type.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return fmt.Errorf("want an integer, got %q", raw)
		}
		fv.SetInt(n)
	case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.String:
		var items []string
		for item := range strings.SplitSeq(raw, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		fv.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("unsupported type %s", f.Type)
	}
	return nil
}

// IsDevelopment reports whether development conveniences are allowed.
func (c Config) IsDevelopment() bool { return c.Env == EnvDevelopment || c.Env == EnvTest }

// DevelopmentEncryptionKey is used when ENCRYPTION_KEY is unset in
// development and test. It is public, so it protects nothing: production
// refuses to start without a real key.
const DevelopmentEncryptionKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

// EffectiveEncryptionKey returns ENCRYPTION_KEY, or the development key where allowed.
func (c Config) EffectiveEncryptionKey() string {
	if c.Security.EncryptionKey == "" && c.IsDevelopment() {
		return DevelopmentEncryptionKey
	}
	return c.Security.EncryptionKey
}

func (c Config) validate() []string {
	prod := !c.IsDevelopment()
	checks := []struct {
		bad bool
		msg string
	}{
		{!slices.Contains([]string{EnvDevelopment, EnvTest, EnvProduction}, c.Env), fmt.Sprintf("AUTHOS_ENV: must be development, test or production, got %q", c.Env)},
		{!slices.Contains([]string{"debug", "info", "warn", "error"}, c.LogLevel), fmt.Sprintf("LOG_LEVEL: must be debug, info, warn or error, got %q", c.LogLevel)},
		{!slices.Contains([]string{"json", "text"}, c.LogFormat), fmt.Sprintf("LOG_FORMAT: must be json or text, got %q", c.LogFormat)},
		{c.HTTP.Port < 1 || c.HTTP.Port > 65535, "PORT: must be between 1 and 65535"},
		{c.Worker.Port < 1 || c.Worker.Port > 65535, "WORKER_PORT: must be between 1 and 65535"},
		{c.HTTP.Port == c.Worker.Port, "WORKER_PORT: must differ from PORT"},
		{badOrigin(c.HTTP.BaseURL), "BASE_URL: must be an absolute http(s) origin without path or trailing slash"},
		{badOrigin(c.HTTP.DashboardBaseURL), "PLATFORM_DASHBOARD_BASE_URL: must be an absolute http(s) origin without path or trailing slash"},
		{c.HTTP.FullWebClientBaseURL != "" && badOrigin(c.HTTP.FullWebClientBaseURL), "FULL_WEB_CLIENT_BASE_URL: must be an absolute http(s) origin"},
		{c.HTTP.MaxBodyBytes < 1024, "MAX_REQUEST_BODY_BYTES: must be at least 1024"},
		{c.HTTP.RequestTimeout <= 0, "REQUEST_TIMEOUT_SECS: must be positive"},
		{c.Database.URL == "", "DATABASE_URL: required"},
		{c.Database.URL != "" && !hasScheme(c.Database.URL, "postgres", "postgresql"), "DATABASE_URL: must be a postgres:// URL"},
		{c.Database.MaxConns < 1, "DB_MAX_CONNECTIONS: must be at least 1"},
		{c.Database.MinConns < 0 || c.Database.MinConns > c.Database.MaxConns, "DB_MIN_CONNECTIONS: must be between 0 and DB_MAX_CONNECTIONS"},
		{c.Redis.URL == "", "REDIS_URL: required"},
		{c.Redis.URL != "" && !hasScheme(c.Redis.URL, "redis", "rediss", "unix"), "REDIS_URL: must be a redis://, rediss:// or unix:// URL"},
		{prod && c.Security.EncryptionKey == "", "ENCRYPTION_KEY: required outside development (64 hex characters; generate with `openssl rand -hex 32`)"},
		{c.Security.EncryptionKey != "" && !isHexKey(c.Security.EncryptionKey), "ENCRYPTION_KEY: must be exactly 64 hex characters"},
		{c.Security.EncryptionKeyID == "" || strings.ContainsAny(c.Security.EncryptionKeyID, ":, "), "ENCRYPTION_KEY_ID: must be non-empty without ':', ',' or spaces"},
		{badPreviousKeys(c.Security.PreviousEncryptionKeys), "ENCRYPTION_PREVIOUS_KEYS: must be comma-separated id:hexkey pairs with 64-hex keys"},
		{prod && c.Security.OutboundAllowPrivate, "OUTBOUND_ALLOW_PRIVATE: not allowed in production"},
		{c.JWT.Algorithm != "ES256" && c.JWT.Algorithm != "RS256", "JWT_ALGORITHM: must be ES256 or RS256"},
		{c.JWT.PrivateKeyBase64 != "" && c.JWT.KID == "", "JWT_KID: required when JWT_PRIVATE_KEY_BASE64 is set"},
		{c.JWT.ExpirationHours < 1 || c.JWT.ExpirationHours > 24*30, "JWT_EXPIRATION_HOURS: must be between 1 and 720"},
		{c.Owner.Email != "" && !strings.Contains(c.Owner.Email, "@"), "PLATFORM_OWNER_EMAIL: must be an email address"},
		{c.Owner.Password != "" && (len(c.Owner.Password) < 8 || len(c.Owner.Password) > 128), "PLATFORM_OWNER_PASSWORD: must be 8 to 128 characters"},
		{c.SMTP.Port < 1 || c.SMTP.Port > 65535, "SMTP_PORT: must be between 1 and 65535"},
		{!slices.Contains([]string{"starttls", "tls", "none"}, c.SMTP.TLS), "SMTP_TLS: must be starttls, tls or none"},
		{!strings.Contains(c.SMTP.FromEmail, "@"), "SMTP_FROM_EMAIL: must be an email address"},
		{!slices.Contains([]string{"none", "disabled", "stripe"}, c.Billing.Provider), fmt.Sprintf("BILLING_PROVIDER: must be none, disabled or stripe, got %q", c.Billing.Provider)},
		{c.Billing.Provider == "stripe" && c.Billing.StripeSecretKey == "", "STRIPE_SECRET_KEY: required when BILLING_PROVIDER=stripe"},
		{c.Billing.Provider == "stripe" && c.Billing.StripeWebhookKey == "", "STRIPE_WEBHOOK_SECRET: required when BILLING_PROVIDER=stripe"},
		{c.Limits.MaxOrgsPerUser < 1, "MAX_ORGS_PER_USER: must be at least 1"},
		{c.Password.Argon2MemoryKiB < 8192 || c.Password.Argon2MemoryKiB > 1<<20, "ARGON2_MEMORY_KIB: must be between 8192 and 1048576"},
		{c.Password.Argon2Iterations < 1 || c.Password.Argon2Iterations > 20, "ARGON2_ITERATIONS: must be between 1 and 20"},
		{c.Password.Argon2Parallelism < 1 || c.Password.Argon2Parallelism > 16, "ARGON2_PARALLELISM: must be between 1 and 16"},
		{c.Password.HashConcurrency < 0, "PASSWORD_HASH_CONCURRENCY: must not be negative"},
		{c.Password.LockoutAttempts < 1, "LOGIN_LOCKOUT_ATTEMPTS: must be at least 1"},
		{c.Password.LockoutDuration < time.Second, "LOGIN_LOCKOUT_SECS: must be at least 1"},
		{c.Worker.DefaultWorkers < 1 || c.Worker.EmailWorkers < 1 || c.Worker.WebhookWorkers < 1 || c.Worker.ExportWorkers < 1 || c.Worker.AnalyticsWorkers < 1, "WORKER_*_CONCURRENCY: must be at least 1"},
	}
	var problems []string
	for _, ch := range checks {
		if ch.bad {
			problems = append(problems, ch.msg)
		}
	}
	for _, p := range c.HTTP.TrustedProxyIPs {
		if _, err := ParsePrefix(p); err != nil {
			problems = append(problems, fmt.Sprintf("TRUSTED_PROXY_IPS: %q is not an IP or CIDR", p))
		}
	}
	for _, o := range c.HTTP.CORSAllowedOrigins {
		if badOrigin(o) {
			problems = append(problems, fmt.Sprintf("CORS_ALLOWED_ORIGINS: %q is not an http(s) origin", o))
		}
	}
	for _, p := range []struct {
		name string
		p    Provider
	}{{"GITHUB", c.OAuth.GitHub}, {"GOOGLE", c.OAuth.Google}, {"MICROSOFT", c.OAuth.Microsoft}} {
		if (p.p.ClientID == "") != (p.p.ClientSecret == "") {
			problems = append(problems, fmt.Sprintf("PLATFORM_%s_CLIENT_ID and PLATFORM_%s_CLIENT_SECRET: set both or neither", p.name, p.name))
		}
		for _, u := range []struct{ n, v string }{{"REDIRECT_URI", p.p.RedirectURI}, {"AUTH_URL", p.p.AuthURL}, {"TOKEN_URL", p.p.TokenURL}, {"USER_API_URL", p.p.UserAPIURL}} {
			if u.v != "" && !isAbsHTTP(u.v) {
				problems = append(problems, fmt.Sprintf("PLATFORM_%s_%s: must be an absolute http(s) URL", p.name, u.n))
			}
		}
	}
	return problems
}

// ParsePrefix parses an IP or CIDR into a prefix.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

func isHexKey(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 32
}

func badPreviousKeys(s string) bool {
	if s == "" {
		return false
	}
	for pair := range strings.SplitSeq(s, ",") {
		id, key, ok := strings.Cut(strings.TrimSpace(pair), ":")
		if !ok || id == "" || !isHexKey(key) {
			return true
		}
	}
	return false
}

func hasScheme(raw string, schemes ...string) bool {
	u, err := url.Parse(raw)
	return err == nil && slices.Contains(schemes, u.Scheme)
}

func isAbsHTTP(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func badOrigin(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return true
	}
	return (u.Path != "" && u.Path != "/") || strings.HasSuffix(raw, "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil
}

// Masked returns "name=value" lines of the effective configuration with
// secrets replaced, for the startup log. URLs marked secret:"url" keep their
// host but lose their password.
func (c Config) Masked() map[string]string {
	out := map[string]string{}
	maskStruct(reflect.ValueOf(c), "", out)
	return out
}

func maskStruct(v reflect.Value, prefix string, out map[string]string) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() {
			maskStruct(fv, prefix+f.Tag.Get("prefix"), out)
			continue
		}
		name := prefix + f.Tag.Get("env")
		var s string
		switch {
		case f.Type == reflect.TypeFor[time.Duration]():
			s = fv.Interface().(time.Duration).String()
		case f.Type.Kind() == reflect.Slice:
			s = strings.Join(fv.Interface().([]string), ",")
		default:
			s = fmt.Sprint(fv.Interface())
		}
		switch f.Tag.Get("secret") {
		case "true":
			if s != "" {
				s = "[REDACTED]"
			}
		case "url":
			s = redactURL(s)
		}
		out[name] = s
	}
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if raw == "" {
			return ""
		}
		return "[REDACTED]"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// ErrInvalid is matched by errors.Is for any configuration error.
var ErrInvalid = errors.New("invalid configuration")

// Is makes errors.Is(err, ErrInvalid) true for *Error.
func (e *Error) Is(target error) bool { return target == ErrInvalid }
