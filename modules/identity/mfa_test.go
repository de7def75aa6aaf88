package identity_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // RFC 6238 reference implementation for the tests
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/identity"
	"github.com/authos/authos/platform/events"
	"github.com/authos/authos/platform/httpapi"
	"github.com/authos/authos/platform/redis"
)

// ---- an independent RFC 6238 implementation
//
// The codes the tests submit come from this implementation, written from
// RFC 4226 §5.3 and RFC 6238 §4 (HMAC-SHA-1 over the big-endian time step,
// dynamic truncation), never from the library the server uses.

func rfc6238(key []byte, step int64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(step))
	mac := hmac.New(sha1.New, key)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := (uint32(sum[off])&0x7f)<<24 | uint32(sum[off+1])<<16 | uint32(sum[off+2])<<8 | uint32(sum[off+3])
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

func TestRFC6238ReferenceVectors(t *testing.T) {
	t.Parallel()
	// RFC 6238 appendix B, SHA-1 rows (seed "12345678901234567890", 8 digits).
	seed := []byte("12345678901234567890")
	for _, v := range []struct {
		unix int64
		code string
	}{
		{59, "94287082"}, {1111111109, "07081804"}, {1111111111, "14050471"},
		{1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"},
	} {
		require.Equal(t, v.code, rfc6238(seed, v.unix/30, 8), "T=%d", v.unix)
		require.Equal(t, v.code[2:], rfc6238(seed, v.unix/30, 6), "T=%d", v.unix)
	}
}

// stepOf is the RFC 6238 time step of t.
func stepOf(t time.Time) int64 { return t.Unix() / 30 }

// codeFor returns the 6-digit code of a base32 secret for a time step.
func codeFor(t *testing.T, secret string, step int64) string {
	t.Helper()
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	require.NoError(t, err)
	return rfc6238(key, step, 6)
}

// ---- helpers

// mfaAccount creates a verified platform user and a session for it.
func (b *testBundle) mfaAccount(t *testing.T, email string) (identity.User, string) {
	t.Helper()
	u := b.oauthUser(t, email)
	toks, err := b.mod.IssueSession(t.Context(), u.ID, "github")
	require.NoError(t, err)
	return u, toks.AccessToken
}

// tenantAccount creates an organization and one of its end users with a session.
func (b *testBundle) tenantAccount(t *testing.T, email string) (identity.User, uuid.UUID, string) {
	t.Helper()
	org := uuid.New()
	_, err := b.pool.Exec(t.Context(), `INSERT INTO organizations (id, slug, name, status) VALUES ($1, $2, $3, 'active')`, org, "org-"+org.String()[:8], "Org")
	require.NoError(t, err)
	now := b.clock.Now()
	u, err := identity.NewStore(b.pool).UserInsert(t.Context(), identity.User{ID: uuid.Must(uuid.NewV7()), OrgID: &org, Email: email, EmailVerifiedAt: &now, CreatedAt: now})
	require.NoError(t, err)
	toks, err := b.mod.IssueSession(t.Context(), u.ID, "password")
	require.NoError(t, err)
	return u, org, toks.AccessToken
}

type mfaSetupBody struct {
	Secret    string `json:"secret"`
	QRCodeSVG string `json:"qr_code_svg"`
	QRCodeURI string `json:"qr_code_uri"`
}

func (a *app) setupMFA(t *testing.T, tok string) mfaSetupBody {
	t.Helper()
	r := a.post(t, "/api/user/mfa/setup", nil, bearer(tok))
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, "no-store", r.header.Get("Cache-Control"))
	var body mfaSetupBody
	require.NoError(t, json.Unmarshal(r.body, &body))
	return body
}

// enableMFA sets MFA up and enables it with the current code; it returns
// the secret and the backup codes. The current step is then used.
func (a *app) enableMFA(t *testing.T, tok string) (string, []string) {
	t.Helper()
	secret := a.setupMFA(t, tok).Secret
	r := a.post(t, "/api/user/mfa/verify", map[string]string{"code": codeFor(t, secret, stepOf(a.b.clock.Now()))}, bearer(tok))
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var body struct {
		Enabled     bool     `json:"enabled"`
		BackupCodes []string `json:"backup_codes"`
	}
	require.NoError(t, json.Unmarshal(r.body, &body))
	require.True(t, body.Enabled)
	return secret, body.BackupCodes
}

type mfaStatusBody struct {
	Enabled        bool       `json:"enabled"`
	HasBackupCodes bool       `json:"has_backup_codes"`
	EnabledAt      *time.Time `json:"enabled_at"`
}

func (a *app) mfaStatus(t *testing.T, tok string) mfaStatusBody {
	t.Helper()
	r := a.get(t, "/api/user/mfa/status", bearer(tok))
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var raw map[string]any
	require.NoError(t, json.Unmarshal(r.body, &raw))
	require.Len(t, raw, 2, string(r.body))
	var body mfaStatusBody
	require.NoError(t, json.Unmarshal(r.body, &body))
	return body
}

func (a *app) del(t *testing.T, path string, body any, opts ...reqOpt) response {
	t.Helper()
	return a.do(t, http.MethodDelete, path, body, opts...)
}

// mfaAuditRow is one mfa_audit_log row.
type mfaAuditRow struct {
	OrgID     *uuid.UUID
	EventType string
	Success   *bool
	Details   string
	IP        string
	UserAgent string
}

// mfaAudit returns a user's mfa_audit_log rows, oldest first.
func (b *testBundle) mfaAudit(t *testing.T, userID uuid.UUID) []mfaAuditRow {
	t.Helper()
	rows, err := b.pool.Query(t.Context(), `SELECT org_id, event_type, success, details, ip_address, user_agent FROM mfa_audit_log
		WHERE user_id = $1 ORDER BY created_at, id`, userID)
	require.NoError(t, err)
	defer rows.Close()
	var out []mfaAuditRow
	for rows.Next() {
		var r mfaAuditRow
		require.NoError(t, rows.Scan(&r.OrgID, &r.EventType, &r.Success, &r.Details, &r.IP, &r.UserAgent))
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

// mfaAuditOf returns the details of a user's rows of one event type.
func (b *testBundle) mfaAuditOf(t *testing.T, userID uuid.UUID, eventType string) []mfaAuditRow {
	t.Helper()
	var out []mfaAuditRow
	for _, r := range b.mfaAudit(t, userID) {
		if r.EventType == eventType {
			out = append(out, r)
		}
	}
	return out
}

// eventsFor returns the recorded events of type typ targeting a user.
func (b *testBundle) eventsFor(typ string, userID uuid.UUID) []events.Event {
	var out []events.Event
	for _, e := range b.events.ofType(typ) {
		if e.TargetID == userID.String() {
			out = append(out, e)
		}
	}
	return out
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// ---- tests

func TestMFAEnrolment(t *testing.T) {
	t.Parallel()

	t.Run("StatusStartsDisabled", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u, tok := b.mfaAccount(t, "ada@example.test")
		require.Equal(t, mfaStatusBody{}, b.mfaStatus(t, tok))
		on, err := b.mod.MFAEnabled(t.Context(), u.ID)
		require.NoError(t, err)
		require.False(t, on)
	})

	t.Run("SetupReturnsSecretURIAndQRCode", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u, tok := b.mfaAccount(t, "ada@example.test")
		s := b.setupMFA(t, tok)
		require.Regexp(t, `^[A-Z2-7]{32}$`, s.Secret)
		uri, err := url.Parse(s.QRCodeURI)
		require.NoError(t, err)
		require.Equal(t, "otpauth", uri.Scheme)
		require.Equal(t, "totp", uri.Host)
		require.Equal(t, "/AuthOS:ada@example.test", uri.Path)
		require.Equal(t, s.Secret, uri.Query().Get("secret"))
		require.Equal(t, "AuthOS", uri.Query().Get("issuer"))
		require.True(t, strings.HasPrefix(s.QRCodeSVG, "<svg "), s.QRCodeSVG[:min(40, len(s.QRCodeSVG))])
		require.True(t, strings.HasSuffix(s.QRCodeSVG, "</svg>"))

		// Setup alone does not enable MFA.
		require.Equal(t, mfaStatusBody{}, b.mfaStatus(t, tok))
		on, err := b.mod.MFAEnabled(t.Context(), u.ID)
		require.NoError(t, err)
		require.False(t, on)
		rows := b.mfaAudit(t, u.ID)
		require.Len(t, rows, 1)
		require.Equal(t, "mfa_setup_initiated", rows[0].EventType)
		require.Equal(t, "identity-test", rows[0].UserAgent)
		require.Nil(t, rows[0].OrgID)
	})

	t.Run("SecondSetupReplacesAPendingSecret", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, tok := b.mfaAccount(t, "ada@example.test")
		first := b.setupMFA(t, tok).Secret
		second := b.setupMFA(t, tok).Secret
		require.NotEqual(t, first, second)
		step := stepOf(b.clock.Now())
		requireProblem(t, b.post(t, "/api/user/mfa/verify", map[string]string{"code": codeFor(t, first, step)}, bearer(tok)),
			http.StatusBadRequest, httpapi.CodeBadRequest, "Invalid TOTP code")
		r := b.post(t, "/api/user/mfa/verify", map[string]string{"code": codeFor(t, second, step)}, bearer(tok))
		require.Equal(t, http.StatusOK, r.status, string(r.body))
	})

	t.Run("VerifyBeforeSetupIsRefused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, tok := b.mfaAccount(t, "ada@example.test")
		requireProblem(t, b.post(t, "/api/user/mfa/verify", map[string]string{"code": "123456"}, bearer(tok)),
			http.StatusBadRequest, httpapi.CodeBadRequest, "MFA not set up. Please call /api/user/mfa/setup first")
	})

	t.Run("VerifyWithAWrongCodeIsRefusedAndAudited", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u, tok := b.mfaAccount(t, "ada@example.test")
		secret := b.setupMFA(t, tok).Secret
		step := stepOf(b.clock.Now())
		for _, code := range []string{codeFor(t, secret, step+2), codeFor(t, secret, step-2), "12345", "abcdef"} {
			requireProblem(t, b.post(t, "/api/user/mfa/verify", map[string]string{"code": code}, bearer(tok)),
				http.StatusBadRequest, httpapi.CodeBadRequest, "Invalid TOTP code")
		}
		failed := b.mfaAuditOf(t, u.ID, "mfa_setup_failed")
		require.Len(t, failed, 4)
		require.Equal(t, "invalid_code", failed[0].Details)
		require.False(t, *failed[0].Success)
		require.Equal(t, mfaStatusBody{}, b.mfaStatus(t, tok))
	})

	t.Run("VerifyEnablesAndReturnsBackupCodes", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u, tok := b.mfaAccount(t, "ada@example.test")
		secret, codes := b.enableMFA(t, tok)
		require.Len(t, codes, 10)
		seen := map[string]bool{}
		for _, c := range codes {
			require.Regexp(t, `^[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{4}-[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{4}$`, c)
			require.False(t, seen[c])
			seen[c] = true
		}
		require.Equal(t, mfaStatusBody{Enabled: true, HasBackupCodes: true}, b.mfaStatus(t, tok))
		on, err := b.mod.MFAEnabled(t.Context(), u.ID)
		require.NoError(t, err)
		require.True(t, on)

		var types []string
		for _, r := range b.mfaAudit(t, u.ID) {
			types = append(types, r.EventType)
		}
		require.Equal(t, []string{"mfa_setup_initiated", "mfa_setup_completed", "mfa_enabled", "backup_codes_generated"}, types)
		require.Equal(t, "count:10", b.mfaAuditOf(t, u.ID, "backup_codes_generated")[0].Details)
		require.Equal(t, "totp", b.mfaAuditOf(t, u.ID, "mfa_enabled")[0].Details)

		enabled := b.eventsFor("user.mfa.enabled", u.ID)
		require.Len(t, enabled, 1)
		require.Equal(t, map[string]any{"method": "totp", "backup_codes_count": 10}, enabled[0].Details)
		require.Equal(t, u.ID, *enabled[0].ActorID)
		require.Nil(t, enabled[0].OrgID)
		require.Len(t, b.eventsFor("security.mfa.enabled", u.ID), 1)

		// Enabling again, or setting up a new secret, is refused; the
		// working secret is kept.
		step := stepOf(b.clock.Now())
		requireProblem(t, b.post(t, "/api/user/mfa/verify", map[string]string{"code": codeFor(t, secret, step+1)}, bearer(tok)),
			http.StatusBadRequest, httpapi.CodeBadRequest, "MFA is already enabled")
		requireProblem(t, b.post(t, "/api/user/mfa/setup", nil, bearer(tok)), http.StatusBadRequest, httpapi.CodeBadRequest, "MFA is already enabled")
		method, err := b.mod.VerifySecondFactor(t.Context(), u.ID, nil, codeFor(t, secret, step+1), identity.RequestMeta{})
		require.NoError(t, err)
		require.Equal(t, identity.MFAMethodTOTP, method)
	})

	t.Run("SecretsAreEncryptedAndBackupCodesHashedAtRest", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u, tok := b.mfaAccount(t, "ada@example.test")
		other, _ := b.mfaAccount(t, "bob@example.test")
		secret, codes := b.enableMFA(t, tok)

		var enc []byte
		var keyID string
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT secret_encrypted, encryption_key_id FROM user_totp_secrets WHERE user_id = $1`, u.ID).Scan(&enc, &keyID))
		raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
		require.NoError(t, err)
		require.False(t, bytes.Contains(enc, []byte(secret)), "the base32 secret is stored in clear")
		require.False(t, bytes.Contains(enc, raw), "the raw secret is stored in clear")
		var asText string
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT encode(secret_encrypted, 'escape') FROM user_totp_secrets WHERE user_id = $1`, u.ID).Scan(&asText))
		require.NotContains(t, asText, secret)
		opened, err := b.ring.Decrypt(enc, keyID, identity.TOTPSecretAD(u.ID))
		require.NoError(t, err)
		require.Equal(t, secret, string(opened))
		// The ciphertext is bound to its user.
		_, err = b.ring.Decrypt(enc, keyID, identity.TOTPSecretAD(other.ID))
		require.Error(t, err)

		var hashes []string
		rows, err := b.pool.Query(t.Context(), `SELECT code_hash FROM totp_backup_codes WHERE user_id = $1 ORDER BY code_hash`, u.ID)
		require.NoError(t, err)
		for rows.Next() {
			var h string
			require.NoError(t, rows.Scan(&h))
			hashes = append(hashes, h)
		}
		require.NoError(t, rows.Err())
		want := make([]string, 0, len(codes))
		for _, c := range codes {
			want = append(want, sha256Hex(strings.ReplaceAll(c, "-", "")))
		}
		require.ElementsMatch(t, want, hashes)
	})

	t.Run("TenantUserEventsCarryTheOrganization", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u, org, tok := b.tenantAccount(t, "end-user@example.test")
		b.enableMFA(t, tok)
		for _, r := range b.mfaAudit(t, u.ID) {
			require.NotNil(t, r.OrgID, r.EventType)
			require.Equal(t, org, *r.OrgID)
		}
		var actions []string
		rows, err := b.pool.Query(t.Context(), `SELECT action FROM organization_audit_log WHERE org_id = $1 AND target_id = $2 ORDER BY created_at, id`, org, u.ID.String())
		require.NoError(t, err)
		for rows.Next() {
			var a string
			require.NoError(t, rows.Scan(&a))
			actions = append(actions, a)
		}
		require.NoError(t, rows.Err())
		require.Contains(t, actions, "user.mfa.enabled")
		require.Contains(t, actions, "security.mfa.enabled")
		e := b.eventsFor("user.mfa.enabled", u.ID)
		require.Len(t, e, 1)
		require.Equal(t, org, *e[0].OrgID)
	})
}

func TestMFADisableAndRegenerate(t *testing.T) {
	t.Parallel()

	t.Run("DisableRefusesWithoutAValidCode", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u, tok := b.mfaAccount(t, "ada@example.test")
		secret, _ := b.enableMFA(t, tok)
		step := stepOf(b.clock.Now())

		requireFieldError(t, b.del(t, "/api/user/mfa", map[string]string{"code": ""}, bearer(tok)), "body.code")
		r := b.del(t, "/api/user/mfa", nil, bearer(tok))
		require.Contains(t, []int{http.StatusBadRequest, http.StatusUnprocessableEntity}, r.status, string(r.body))
		for _, code := range []string{codeFor(t, secret, step+3), "000000", "ABCD-EFGH", "nonsense"} {
			requireProblem(t, b.del(t, "/api/user/mfa", map[string]string{"code": code}, bearer(tok)), http.StatusUnauthorized, httpapi.CodeUnauthorized, "Invalid MFA code")
		}
		require.True(t, b.mfaStatus(t, tok).Enabled)
		require.Empty(t, b.eventsFor("user.mfa.disabled", u.ID))
	})

	t.Run("DisableWithATOTPCode", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u, tok := b.mfaAccount(t, "ada@example.test")
		secret, _ := b.enableMFA(t, tok)
		b.clock.Advance(30 * time.Second)
		r := b.del(t, "/api/user/mfa", map[string]string{"code": codeFor(t, secret, stepOf(b.clock.Now()))}, bearer(tok), fromIP("203.0.113.7"))
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		require.JSONEq(t, `{"success":true,"message":"MFA has been disabled"}`, string(r.body))
		require.Equal(t, mfaStatusBody{}, b.mfaStatus(t, tok))

		var secrets, codes int
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT (SELECT count(*) FROM user_totp_secrets WHERE user_id = $1), (SELECT count(*) FROM totp_backup_codes WHERE user_id = $1)`, u.ID).Scan(&secrets, &codes))
		require.Zero(t, secrets)
		require.Zero(t, codes)

		disabled := b.mfaAuditOf(t, u.ID, "mfa_disabled")
		require.Len(t, disabled, 1)
		require.Equal(t, "203.0.113.7", disabled[0].IP)
		require.Len(t, b.mfaAuditOf(t, u.ID, "mfa_verify_success"), 1)
		require.Len(t, b.eventsFor("user.mfa.disabled", u.ID), 1)
		require.Len(t, b.eventsFor("security.mfa.disabled", u.ID), 1)
		on, err := b.mod.MFAEnabled(t.Context(), u.ID)
		require.NoError(t, err)
		require.False(t, on)

		// Disabled: both endpoints say so, and MFA can be set up again.
		requireProblem(t, b.del(t, "/api/user/mfa", map[string]string{"code": "123456"}, bearer(tok)), http.StatusBadRequest, httpapi.CodeBadRequest, "MFA is not enabled")
		requireProblem(t, b.post(t, "/api/user/mfa/backup-codes/regenerate", map[string]string{"code": "123456"}, bearer(tok)), http.StatusBadRequest, httpapi.CodeBadRequest, "MFA is not enabled")
		b.clock.Advance(30 * time.Second)
		b.enableMFA(t, tok)
	})

	t.Run("DisableWithABackupCode", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u, tok := b.mfaAccount(t, "ada@example.test")
		_, codes := b.enableMFA(t, tok)
		r := b.del(t, "/api/user/mfa", map[string]string{"code": strings.ToLower(codes[3])}, bearer(tok))
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		require.False(t, b.mfaStatus(t, tok).Enabled)
		used := b.mfaAuditOf(t, u.ID, "backup_code_used")
		require.Len(t, used, 1)
		require.Regexp(t, `^code_id:[0-9a-f-]{36}$`, used[0].Details)
	})

	t.Run("RegenerateReplacesTheBackupCodes", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u, tok := b.mfaAccount(t, "ada@example.test")
		secret, old := b.enableMFA(t, tok)

		requireProblem(t, b.post(t, "/api/user/mfa/backup-codes/regenerate", map[string]string{"code": "999999"}, bearer(tok)),
			http.StatusUnauthorized, httpapi.CodeUnauthorized, "Invalid MFA code")
		requireFieldError(t, b.post(t, "/api/user/mfa/backup-codes/regenerate", map[string]string{}, bearer(tok)), "body")
		requireFieldError(t, b.post(t, "/api/user/mfa/backup-codes/regenerate", map[string]string{"code": strings.Repeat("1", 65)}, bearer(tok)), "body.code")

		b.clock.Advance(30 * time.Second)
		r := b.post(t, "/api/user/mfa/backup-codes/regenerate", map[string]string{"code": codeFor(t, secret, stepOf(b.clock.Now()))}, bearer(tok))
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		require.Equal(t, "no-store", r.header.Get("Cache-Control"))
		var body struct {
			BackupCodes []string `json:"backup_codes"`
		}
		require.NoError(t, json.Unmarshal(r.body, &body))
		require.Len(t, body.BackupCodes, 10)
		for _, c := range body.BackupCodes {
			require.NotContains(t, old, c)
		}
		gen := b.mfaAuditOf(t, u.ID, "backup_codes_generated")
		require.Len(t, gen, 2)
		require.Equal(t, "count:10", gen[1].Details)

		// Old codes are gone; new ones work once.
		_, err := b.mod.VerifySecondFactor(t.Context(), u.ID, nil, old[0], identity.RequestMeta{})
		require.ErrorIs(t, err, identity.ErrInvalidMFACode)
		method, err := b.mod.VerifySecondFactor(t.Context(), u.ID, nil, body.BackupCodes[0], identity.RequestMeta{})
		require.NoError(t, err)
		require.Equal(t, identity.MFAMethodBackupCode, method)
	})

	t.Run("ACodeIsAcceptedOncePerStepAcrossEndpoints", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, tok := b.mfaAccount(t, "ada@example.test")
		secret, _ := b.enableMFA(t, tok)
		// The code that enabled MFA cannot be replayed in the same step.
		enabling := codeFor(t, secret, stepOf(b.clock.Now()))
		requireProblem(t, b.del(t, "/api/user/mfa", map[string]string{"code": enabling}, bearer(tok)), http.StatusUnauthorized, httpapi.CodeUnauthorized, "Invalid MFA code")

		// A code used to regenerate cannot disable within the same 30 s.
		b.clock.Advance(30 * time.Second)
		code := codeFor(t, secret, stepOf(b.clock.Now()))
		r := b.post(t, "/api/user/mfa/backup-codes/regenerate", map[string]string{"code": code}, bearer(tok))
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		b.clock.Advance(10 * time.Second)
		requireProblem(t, b.del(t, "/api/user/mfa", map[string]string{"code": code}, bearer(tok)), http.StatusUnauthorized, httpapi.CodeUnauthorized, "Invalid MFA code")
		require.True(t, b.mfaStatus(t, tok).Enabled)
	})
}

func TestVerifySecondFactor(t *testing.T) {
	t.Parallel()
	meta := identity.RequestMeta{IP: "198.51.100.4", UserAgent: "step-up"}

	t.Run("AcceptsOneStepOfSkewAndRefusesTwo", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u, tok := b.mfaAccount(t, "ada@example.test")
		secret, _ := b.enableMFA(t, tok)
		ctx := t.Context()

		b.clock.Advance(5 * time.Minute)
		cur := stepOf(b.clock.Now())
		for _, d := range []int64{-2, 2} {
			_, err := b.mod.VerifySecondFactor(ctx, u.ID, nil, codeFor(t, secret, cur+d), meta)
			require.ErrorIs(t, err, identity.ErrInvalidMFACode, "offset %d", d)
		}
		method, err := b.mod.VerifySecondFactor(ctx, u.ID, nil, codeFor(t, secret, cur-1), meta)
		require.NoError(t, err)
		require.Equal(t, identity.MFAMethodTOTP, method)
		_, err = b.mod.VerifySecondFactor(ctx, u.ID, nil, codeFor(t, secret, cur+1), meta)
		require.NoError(t, err)
		// Accepting step cur+1 closes the earlier steps.
		_, err = b.mod.VerifySecondFactor(ctx, u.ID, nil, codeFor(t, secret, cur), meta)
		require.ErrorIs(t, err, identity.ErrInvalidMFACode)
	})

	t.Run("RefusesAReplayedCode", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u, tok := b.mfaAccount(t, "ada@example.test")
		secret, _ := b.enableMFA(t, tok)
		b.clock.Advance(30 * time.Second)
		code := codeFor(t, secret, stepOf(b.clock.Now()))
		_, err := b.mod.VerifySecondFactor(t.Context(), u.ID, nil, " "+code+" ", meta)
		require.NoError(t, err)
		_, err = b.mod.VerifySecondFactor(t.Context(), u.ID, nil, code, meta)
		require.ErrorIs(t, err, identity.ErrInvalidMFACode)

		failed := b.mfaAuditOf(t, u.ID, "mfa_verify_failed")
		require.Len(t, failed, 1)
		require.Equal(t, "method:totp,reason:replayed_code", failed[0].Details)
		require.Equal(t, "198.51.100.4", failed[0].IP)
		require.Equal(t, "step-up", failed[0].UserAgent)
		attempts := b.mfaAuditOf(t, u.ID, "mfa_verify_attempt")
		require.Len(t, attempts, 2)
		require.Nil(t, attempts[0].Success)
		require.Equal(t, "totp", attempts[0].Details)
		ok := b.mfaAuditOf(t, u.ID, "mfa_verify_success")
		require.Len(t, ok, 1)
		require.Equal(t, "totp", ok[0].Details)

		succ := b.eventsFor("user.mfa.verify.success", u.ID)
		require.Len(t, succ, 1)
		require.Equal(t, map[string]any{"method": "totp"}, succ[0].Details)
		fail := b.eventsFor("user.mfa.verify.failed", u.ID)
		require.Len(t, fail, 1)
		require.Equal(t, map[string]any{"method": "totp", "reason": "replayed_code"}, fail[0].Details)
		require.False(t, fail[0].Succeeded())
		require.Equal(t, "198.51.100.4", fail[0].IP)
	})

	t.Run("BackupCodesAreSingleUse", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u, tok := b.mfaAccount(t, "ada@example.test")
		_, codes := b.enableMFA(t, tok)
		// Case and the dash do not matter.
		method, err := b.mod.VerifySecondFactor(t.Context(), u.ID, nil, strings.ToLower(strings.ReplaceAll(codes[0], "-", "")), meta)
		require.NoError(t, err)
		require.Equal(t, identity.MFAMethodBackupCode, method)
		method, err = b.mod.VerifySecondFactor(t.Context(), u.ID, nil, codes[0], meta)
		require.ErrorIs(t, err, identity.ErrInvalidMFACode)
		require.Equal(t, identity.MFAMethodBackupCode, method)
		require.Equal(t, "method:backup_code,reason:invalid_code", b.mfaAuditOf(t, u.ID, "mfa_verify_failed")[0].Details)

		var usedID uuid.UUID
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT id FROM totp_backup_codes WHERE user_id = $1 AND used_at IS NOT NULL`, u.ID).Scan(&usedID))
		used := b.mfaAuditOf(t, u.ID, "backup_code_used")
		require.Len(t, used, 1)
		require.Equal(t, "code_id:"+usedID.String(), used[0].Details)
		require.Equal(t, map[string]any{"method": "backup_code"}, b.eventsFor("user.mfa.verify.success", u.ID)[0].Details)

		// Another user's code is not this user's.
		other, otherTok := b.mfaAccount(t, "bob@example.test")
		_, otherCodes := b.enableMFA(t, otherTok)
		_, err = b.mod.VerifySecondFactor(t.Context(), u.ID, nil, otherCodes[0], meta)
		require.ErrorIs(t, err, identity.ErrInvalidMFACode)
		_, err = b.mod.VerifySecondFactor(t.Context(), other.ID, nil, otherCodes[0], meta)
		require.NoError(t, err)
		require.True(t, b.mfaStatus(t, tok).HasBackupCodes)
	})

	t.Run("OneBackupCodeUsedConcurrentlySucceedsOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u, tok := b.mfaAccount(t, "ada@example.test")
		_, codes := b.enableMFA(t, tok)
		const n = 20
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				_, errs[i] = b.mod.VerifySecondFactor(t.Context(), u.ID, nil, codes[5], meta)
			})
		}
		close(start)
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case errors.Is(err, identity.ErrInvalidMFACode), errors.Is(err, identity.ErrMFALocked):
			default:
				require.NoError(t, err)
			}
		}
		require.Equal(t, 1, wins)
		require.Len(t, b.mfaAuditOf(t, u.ID, "backup_code_used"), 1)
		require.Len(t, b.eventsFor("user.mfa.verify.success", u.ID), 1)
	})

	t.Run("OneTOTPCodeUsedConcurrentlySucceedsOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u, tok := b.mfaAccount(t, "ada@example.test")
		secret, _ := b.enableMFA(t, tok)
		b.clock.Advance(30 * time.Second)
		code := codeFor(t, secret, stepOf(b.clock.Now()))
		const n = 10
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				_, errs[i] = b.mod.VerifySecondFactor(t.Context(), u.ID, nil, code, meta)
			})
		}
		close(start)
		wg.Wait()
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
				continue
			}
			require.True(t, errors.Is(err, identity.ErrInvalidMFACode) || errors.Is(err, identity.ErrMFALocked), err)
		}
		require.Equal(t, 1, wins)
	})

	t.Run("LocksAfterFiveFailures", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u, tok := b.mfaAccount(t, "ada@example.test")
		secret, codes := b.enableMFA(t, tok)
		require.Equal(t, 5, identity.MFAMaxFailures)
		for range identity.MFAMaxFailures {
			_, err := b.mod.VerifySecondFactor(t.Context(), u.ID, nil, "000000", meta)
			require.ErrorIs(t, err, identity.ErrInvalidMFACode)
		}
		// Locked: even a right code (TOTP or backup) is refused.
		b.clock.Advance(30 * time.Second)
		good := codeFor(t, secret, stepOf(b.clock.Now()))
		_, err := b.mod.VerifySecondFactor(t.Context(), u.ID, nil, good, meta)
		require.ErrorIs(t, err, identity.ErrMFALocked)
		var locked *identity.MFALockedError
		require.ErrorAs(t, err, &locked)
		require.Greater(t, locked.RetryAfter, identity.MFALockDuration-time.Minute)
		require.LessOrEqual(t, locked.RetryAfter, identity.MFALockDuration)
		_, err = b.mod.VerifySecondFactor(t.Context(), u.ID, nil, codes[0], meta)
		require.ErrorIs(t, err, identity.ErrMFALocked)

		// Over HTTP: 429 with Retry-After, and nothing changes.
		r := b.del(t, "/api/user/mfa", map[string]string{"code": good}, bearer(tok))
		requireProblem(t, r, http.StatusTooManyRequests, httpapi.CodeTooManyRequests, "Too many failed MFA attempts. Please try again later.")
		retry, err := strconv.Atoi(r.header.Get("Retry-After"))
		require.NoError(t, err)
		require.Greater(t, retry, 14*60)
		require.LessOrEqual(t, retry, 15*60)
		require.True(t, b.mfaStatus(t, tok).Enabled)

		lockedRows := 0
		for _, row := range b.mfaAuditOf(t, u.ID, "mfa_verify_failed") {
			if strings.HasSuffix(row.Details, "reason:locked") {
				lockedRows++
			}
		}
		require.Equal(t, 3, lockedRows)
		// The unused backup code was not consumed by the locked attempt.
		var unused int
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM totp_backup_codes WHERE user_id = $1 AND used_at IS NULL`, u.ID).Scan(&unused))
		require.Equal(t, 10, unused)

		// The lock is per user.
		other, otherTok := b.mfaAccount(t, "bob@example.test")
		_, otherCodes := b.enableMFA(t, otherTok)
		_, err = b.mod.VerifySecondFactor(t.Context(), other.ID, nil, otherCodes[0], meta)
		require.NoError(t, err)

		// When the lock expires, verification works again.
		keys, err := b.rdb.Keys(t.Context(), b.prefix+"mfa:"+u.ID.String()+":lock").Result()
		require.NoError(t, err)
		require.Len(t, keys, 1)
		require.NoError(t, b.rdb.Del(t.Context(), keys...).Err())
		_, err = b.mod.VerifySecondFactor(t.Context(), u.ID, nil, codes[0], meta)
		require.NoError(t, err)
	})

	t.Run("ASuccessResetsTheFailureCount", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u, tok := b.mfaAccount(t, "ada@example.test")
		_, codes := b.enableMFA(t, tok)
		for range identity.MFAMaxFailures - 1 {
			_, err := b.mod.VerifySecondFactor(t.Context(), u.ID, nil, "ZZZZ-ZZZZ", meta)
			require.ErrorIs(t, err, identity.ErrInvalidMFACode)
		}
		_, err := b.mod.VerifySecondFactor(t.Context(), u.ID, nil, codes[0], meta)
		require.NoError(t, err)
		for range identity.MFAMaxFailures - 1 {
			_, err := b.mod.VerifySecondFactor(t.Context(), u.ID, nil, "ZZZZ-ZZZZ", meta)
			require.ErrorIs(t, err, identity.ErrInvalidMFACode)
		}
		_, err = b.mod.VerifySecondFactor(t.Context(), u.ID, nil, codes[1], meta)
		require.NoError(t, err)
	})

	t.Run("RefusesUsersWithoutMFA", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u, tok := b.mfaAccount(t, "ada@example.test")
		_, err := b.mod.VerifySecondFactor(t.Context(), u.ID, nil, "123456", meta)
		require.ErrorIs(t, err, identity.ErrMFANotEnabled)
		// A pending (not enabled) secret is no second factor either.
		secret := b.setupMFA(t, tok).Secret
		_, err = b.mod.VerifySecondFactor(t.Context(), u.ID, nil, codeFor(t, secret, stepOf(b.clock.Now())), meta)
		require.ErrorIs(t, err, identity.ErrMFANotEnabled)
		require.Empty(t, b.eventsFor("user.mfa.verify.success", u.ID))
	})

	t.Run("RecordsTheLoginOrganization", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u, org, tok := b.tenantAccount(t, "end-user@example.test")
		secret, _ := b.enableMFA(t, tok)
		b.clock.Advance(30 * time.Second)
		_, err := b.mod.VerifySecondFactor(t.Context(), u.ID, &org, codeFor(t, secret, stepOf(b.clock.Now())), meta)
		require.NoError(t, err)
		row := b.mfaAuditOf(t, u.ID, "mfa_verify_success")[0]
		require.Equal(t, org, *row.OrgID)
		e := b.eventsFor("user.mfa.verify.success", u.ID)[0]
		require.Equal(t, org, *e.OrgID)
		var n int
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM organization_audit_log WHERE org_id = $1 AND action = 'user.mfa.verify.success'`, org).Scan(&n))
		require.Equal(t, 1, n)
	})
}

func TestMFAAuthorization(t *testing.T) {
	t.Parallel()
	b := setup(t)
	endpoints := []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "/api/user/mfa/status", nil},
		{http.MethodPost, "/api/user/mfa/setup", nil},
		{http.MethodPost, "/api/user/mfa/verify", map[string]string{"code": "123456"}},
		{http.MethodPost, "/api/user/mfa/backup-codes/regenerate", map[string]string{"code": "123456"}},
		{http.MethodDelete, "/api/user/mfa", map[string]string{"code": "123456"}},
	}
	for _, ep := range endpoints {
		t.Run("NoToken"+ep.method+strings.ReplaceAll(ep.path, "/", "_"), func(t *testing.T) {
			t.Parallel()
			requireProblem(t, b.do(t, ep.method, ep.path, ep.body), http.StatusUnauthorized, httpapi.CodeUnauthorized, "")
			requireProblem(t, b.do(t, ep.method, ep.path, ep.body, bearer("not-a-token")), http.StatusUnauthorized, "JWT_ERROR", "")
		})
	}

	t.Run("ActsOnTheCallerOnly", func(t *testing.T) {
		t.Parallel()
		_, adaTok := b.mfaAccount(t, "ada@example.test")
		_, bobTok := b.mfaAccount(t, "bob@example.test")
		b.enableMFA(t, adaTok)
		require.Equal(t, mfaStatusBody{}, b.mfaStatus(t, bobTok))
	})

	t.Run("RevokedSessionIsRefused", func(t *testing.T) {
		t.Parallel()
		_, tok := b.mfaAccount(t, "carol@example.test")
		requireMessage(t, b.post(t, "/api/auth/logout", nil, bearer(tok)), "Logged out successfully")
		requireProblem(t, b.post(t, "/api/user/mfa/setup", nil, bearer(tok)), http.StatusUnauthorized, httpapi.CodeUnauthorized, msgSessionRevoked)
	})
}

func TestMFARateLimit(t *testing.T) {
	t.Parallel()
	limited := func(t *testing.T) *testBundle {
		t.Helper()
		return setup(t, func(c *identity.Config) { c.RateLimits = true })
	}

	// requireLimited empties a bucket and checks that the next request is
	// refused. The bucket refills every 300 ms, so a slow machine may need
	// another try; an unlimited route never answers 429.
	requireLimited := func(t *testing.T, b *testBundle, bucket string, do func() response) {
		t.Helper()
		limiter := redis.NewLimiter(b.rdb, b.prefix+"rl")
		for range 3 {
			for {
				res, err := limiter.Allow(t.Context(), redis.RuleSelfServiceMFA+":"+bucket, redis.SelfServiceMFARate())
				require.NoError(t, err)
				if !res.Allowed {
					break
				}
			}
			if r := do(); r.status == http.StatusTooManyRequests {
				requireProblem(t, r, http.StatusTooManyRequests, httpapi.CodeTooManyRequests, "")
				return
			}
		}
		t.Fatalf("bucket %s does not limit", bucket)
	}

	t.Run("BurstOfFive", func(t *testing.T) {
		t.Parallel()
		b := limited(t)
		_, tok := b.mfaAccount(t, "ada@example.test")
		for i := range 5 {
			r := b.get(t, "/api/user/mfa/status", bearer(tok), fromIP("192.0.2.1"))
			require.Equal(t, http.StatusOK, r.status, "request %d: %s", i, r.body)
			require.Equal(t, "5", r.header.Get("RateLimit-Limit"))
		}
		for range 30 {
			r := b.get(t, "/api/user/mfa/status", bearer(tok), fromIP("192.0.2.1"))
			if r.status == http.StatusOK {
				continue
			}
			requireProblem(t, r, http.StatusTooManyRequests, httpapi.CodeTooManyRequests, "")
			retry, err := strconv.Atoi(r.header.Get("Retry-After"))
			require.NoError(t, err)
			require.GreaterOrEqual(t, retry, 1)
			return
		}
		t.Fatal("never limited")
	})

	t.Run("PerAccountFromAnyAddress", func(t *testing.T) {
		t.Parallel()
		b := limited(t)
		ada, adaTok := b.mfaAccount(t, "ada@example.test")
		requireLimited(t, b, "user:"+ada.ID.String(), func() response {
			return b.post(t, "/api/user/mfa/setup", nil, bearer(adaTok), fromIP("192.0.2.2"))
		})
	})

	t.Run("PerAddressForAnyAccount", func(t *testing.T) {
		t.Parallel()
		b := limited(t)
		_, bobTok := b.mfaAccount(t, "bob@example.test")
		requireLimited(t, b, "192.0.2.4", func() response {
			return b.get(t, "/api/user/mfa/status", bearer(bobTok), fromIP("192.0.2.4"))
		})
		r := b.get(t, "/api/user/mfa/status", bearer(bobTok), fromIP("192.0.2.3"))
		require.Equal(t, http.StatusOK, r.status, string(r.body))
	})
}
