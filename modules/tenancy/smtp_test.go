package tenancy_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/jobs"
	"github.com/authos/authos/modules/tenancy"
	"github.com/authos/authos/platform/httpapi"
	"github.com/authos/authos/platform/mail"
	"github.com/authos/authos/platform/mailcatch"
	"github.com/authos/authos/platform/outbound"
)

const (
	smtpUser     = "mailer@acme.test"
	smtpPassword = "s3cret-smtp-pässword"
	msgSettings  = "Insufficient permissions to manage organization settings"
	msgSMTPSaved = "SMTP configuration saved successfully"
	msgSMTPGone  = "SMTP configuration deleted successfully. Organization will now use platform-level SMTP."
)

func smtpPath(o org, rest ...string) string {
	return "/api/organizations/" + o.Slug + "/smtp" + strings.Join(rest, "")
}

type smtpJSON struct {
	Host       string  `json:"host"`
	Port       int     `json:"port"`
	Username   string  `json:"username"`
	FromEmail  string  `json:"from_email"`
	FromName   *string `json:"from_name"`
	Configured bool    `json:"configured"`
}

type messageJSON struct {
	Message string `json:"message"`
}

type smtpTestJSON struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
}

// catcher is a capture SMTP server on loopback.
type catcher struct {
	*mailcatch.Server
	port int
}

// startCatcher starts a capture server; with tlsConf it offers STARTTLS.
func startCatcher(t *testing.T, opts mailcatch.Options) catcher {
	t.Helper()
	srv, err := mailcatch.StartWithOptions(t.Context(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	return catcher{Server: srv, port: portOf(t, srv.SMTPAddr())}
}

// to returns the messages captured for addr.
func (c catcher) to(addr string) []mailcatch.Captured {
	var out []mailcatch.Captured
	for _, m := range c.Messages() {
		if len(m.To) == 1 && m.To[0] == addr {
			out = append(out, m)
		}
	}
	return out
}

// waitTo waits for a message to addr.
func (c catcher) waitTo(t *testing.T, addr string) mailcatch.Captured {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	m, err := c.WaitFor(ctx, func(m mailcatch.Captured) bool { return len(m.To) == 1 && m.To[0] == addr })
	require.NoError(t, err)
	return m
}

// smtpBody is a complete POST .../smtp body for host:port with the test
// credentials.
func smtpBody(host string, port int) map[string]any {
	return map[string]any{"host": host, "port": port, "username": smtpUser, "password": smtpPassword,
		"from_email": "noreply@acme.test", "from_name": "Acme Mail"}
}

// saveSMTP saves o's SMTP settings through the service as its owner.
func (b *testBundle) saveSMTP(t *testing.T, o org, in tenancy.SMTPUpdate) {
	t.Helper()
	require.NoError(t, b.mod.Settings().SaveSMTP(t.Context(), tenancy.Actor{UserID: o.Owner.ID, Email: o.Owner.Email}, o.Slug, in))
}

// ownerSMTP reads o's SMTP settings through the service as its owner.
func (b *testBundle) ownerSMTP(t *testing.T, o org) tenancy.SMTPSettings {
	t.Helper()
	s, err := b.mod.Settings().GetSMTP(t.Context(), tenancy.Actor{UserID: o.Owner.ID, Email: o.Owner.Email}, o.Slug)
	require.NoError(t, err)
	return s
}

// setSMTPRow writes o's SMTP settings directly, bypassing validation (as
// if saved under another outbound policy).
func (b *testBundle) setSMTPRow(t *testing.T, o org, host string, port int) {
	t.Helper()
	_, err := b.pool.Exec(t.Context(), `UPDATE organizations SET smtp_host = $2, smtp_port = $3, smtp_from_email = 'noreply@acme.test'
		WHERE id = $1`, o.ID, host, port)
	require.NoError(t, err)
}

// TestSMTPAuthorization runs the four SMTP routes against every kind of
// caller, each on a fresh world whose org A has SMTP settings (with
// credentials, over STARTTLS) pointing at a capture server. Only members
// holding org.settings.manage get through; platform owners are not
// implicitly members here. Refused callers see nothing and change nothing.
func TestSMTPAuthorization(t *testing.T) {
	t.Parallel()
	b := setupSettings(t, true)
	c := startCatcher(t, mailcatch.Options{TLSConfig: b.serverTLS})
	seed := tenancy.SMTPUpdate{Host: "127.0.0.1", Port: c.port, Username: "seeded-user", Password: smtpPassword, FromEmail: "seeded@acme.test"}
	refused := []matrixCase{noToken(), adminOfOtherOrg(), forbiddenCase("Stranger", stranger, msgNotMember),
		forbiddenCase("PlatformOwner", platformOwner, msgNotMember), forbiddenCase("MemberWithoutCapability", memberA, msgSettings)}
	allowed := []matrixCase{okCase("Admin", adminA), okCase("Owner", ownerA)}

	endpoints := []struct {
		Name   string
		Method string
		Path   string
		Body   any
		Event  string
	}{
		{Name: "Get", Method: http.MethodGet},
		{Name: "Save", Method: http.MethodPost, Body: smtpBody("127.0.0.1", c.port), Event: "organization.smtp.configured"},
		{Name: "Delete", Method: http.MethodDelete, Event: "organization.smtp.removed"},
		{Name: "Test", Method: http.MethodPost, Path: "/test"},
	}
	for _, ep := range endpoints {
		t.Run(ep.Name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range append(refused, allowed...) {
				t.Run(tc.Name, func(t *testing.T) {
					t.Parallel()
					w := b.world(t)
					b.saveSMTP(t, w.A, seed)
					before := b.ownerSMTP(t, w.A)
					eventsBefore := 0
					if ep.Event != "" {
						eventsBefore = len(b.orgAudit(t, w.A.ID, ep.Event))
					}
					r := b.do(t, ep.Method, smtpPath(w.A, ep.Path), tc.Caller(w), ep.Body)
					require.NotContains(t, string(r.body), smtpPassword)
					if tc.WantStatus != http.StatusOK {
						requireProblem(t, r, tc.WantStatus, tc.WantCode, tc.WantMsg)
						require.NotContains(t, string(r.body), "seeded")
						require.Equal(t, before, b.ownerSMTP(t, w.A), "a refused call changes nothing")
						if ep.Event != "" {
							require.Len(t, b.orgAudit(t, w.A.ID, ep.Event), eventsBefore)
						}
						return
					}
					switch ep.Name {
					case "Get":
						require.Equal(t, smtpJSON{Host: "127.0.0.1", Port: c.port, Username: "seeded-user", FromEmail: "seeded@acme.test",
							Configured: true}, decode[smtpJSON](t, r, http.StatusOK))
					case "Save":
						require.Equal(t, messageJSON{Message: msgSMTPSaved}, decode[messageJSON](t, r, http.StatusOK))
						require.Equal(t, smtpUser, b.ownerSMTP(t, w.A).Username)
					case "Delete":
						require.Equal(t, messageJSON{Message: msgSMTPGone}, decode[messageJSON](t, r, http.StatusOK))
						require.False(t, b.ownerSMTP(t, w.A).Configured)
					case "Test":
						email := map[string]string{"Admin": w.AdminA.Email, "Owner": w.OwnerA.Email}[tc.Name]
						require.Equal(t, smtpTestJSON{Success: true, Message: "Test email sent to " + email}, decode[smtpTestJSON](t, r, http.StatusOK))
						got := c.waitTo(t, email)
						require.Equal(t, "seeded-user", got.Username)
						require.True(t, got.TLS)
					}
					if ep.Event != "" {
						require.Len(t, b.orgAudit(t, w.A.ID, ep.Event), eventsBefore+1)
					}
				})
			}
		})
	}

	t.Run("UnknownOrganization", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		r := b.do(t, http.MethodGet, "/api/organizations/"+newSlug("nope")+"/smtp", w.OwnerA.Token, nil)
		requireProblem(t, r, http.StatusNotFound, httpapi.CodeNotFound, "Organization not found")
	})
}

func TestSMTPSave(t *testing.T) {
	t.Parallel()
	b := setupSettings(t, true)

	t.Run("StoresEncryptedPasswordAndNeverShowsIt", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		r := b.do(t, http.MethodPost, smtpPath(w.A), w.AdminA.Token, map[string]any{
			"host": " Mail.Acme.TEST ", "port": 2525, "username": smtpUser, "password": smtpPassword,
			"from_email": "noreply@acme.test", "from_name": "Acme Mail",
		})
		require.Equal(t, messageJSON{Message: msgSMTPSaved}, decode[messageJSON](t, r, http.StatusOK))

		r = b.do(t, http.MethodGet, smtpPath(w.A), w.OwnerA.Token, nil)
		require.NotContains(t, string(r.body), smtpPassword)
		require.NotContains(t, string(r.body), "password")
		require.Equal(t, smtpJSON{Host: "mail.acme.test", Port: 2525, Username: smtpUser, FromEmail: "noreply@acme.test",
			FromName: ptr("Acme Mail"), Configured: true}, decode[smtpJSON](t, r, http.StatusOK))

		var ct []byte
		var keyID string
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT smtp_password_encrypted, smtp_encryption_key_id FROM organizations WHERE id = $1`,
			w.A.ID).Scan(&ct, &keyID))
		require.Equal(t, "k1", keyID)
		require.NotContains(t, string(ct), smtpPassword)
		plain, err := b.ring.DecryptString(ct, keyID, "tenancy.smtp_password:"+w.A.ID.String())
		require.NoError(t, err)
		require.Equal(t, smtpPassword, plain)
		_, err = b.ring.DecryptString(ct, keyID, "tenancy.smtp_password:"+w.B.ID.String())
		require.Error(t, err, "the ciphertext is bound to its organization")

		rows := b.orgAudit(t, w.A.ID, "organization.smtp.configured")
		require.Len(t, rows, 1)
		require.Equal(t, map[string]any{"host": "mail.acme.test", "port": float64(2525), "username": smtpUser,
			"from_email": "noreply@acme.test", "from_name": "Acme Mail"}, rows[0].Details)
		require.Equal(t, w.AdminA.ID, *rows[0].ActorID)
	})

	t.Run("UnsetIsNotConfigured", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		r := b.do(t, http.MethodGet, smtpPath(w.A), w.OwnerA.Token, nil)
		require.JSONEq(t, `{"host": "", "port": 587, "username": "", "from_email": "", "from_name": null, "configured": false}`, string(r.body))
	})

	t.Run("DefaultPortAndNoCredentials", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		r := b.do(t, http.MethodPost, smtpPath(w.A), w.OwnerA.Token, map[string]any{"host": "9.9.9.9", "from_email": "a@acme.test"})
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		require.Equal(t, tenancy.SMTPSettings{Host: "9.9.9.9", Port: 587, FromEmail: "a@acme.test", Configured: true}, b.ownerSMTP(t, w.A))
	})

	t.Run("OverwriteDropsThePassword", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		require.Equal(t, http.StatusOK, b.do(t, http.MethodPost, smtpPath(w.A), w.OwnerA.Token, smtpBody("mail.acme.test", 587)).status)
		r := b.do(t, http.MethodPost, smtpPath(w.A), w.OwnerA.Token, map[string]any{"host": "relay.acme.test", "from_email": "a@acme.test"})
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		var hasPassword bool
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT smtp_password_encrypted IS NOT NULL OR smtp_encryption_key_id IS NOT NULL
			FROM organizations WHERE id = $1`, w.A.ID).Scan(&hasPassword))
		require.False(t, hasPassword)
		require.Len(t, b.orgAudit(t, w.A.ID, "organization.smtp.configured"), 2)
	})

	t.Run("InactiveOrganizationIsRefused", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		b.setStatus(t, w.A, tenancy.StatusSuspended)
		r := b.do(t, http.MethodPost, smtpPath(w.A), w.OwnerA.Token, smtpBody("mail.acme.test", 587))
		requireProblem(t, r, http.StatusForbidden, tenancy.CodeOrganizationNotActive, "Organization is not active. Current status: suspended")
		r = b.do(t, http.MethodGet, smtpPath(w.A), w.OwnerA.Token, nil)
		require.False(t, decode[smtpJSON](t, r, http.StatusOK).Configured, "reading stays possible")
	})

	t.Run("MetadataAddressIsAlwaysRefused", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		r := b.do(t, http.MethodPost, smtpPath(w.A), w.OwnerA.Token, smtpBody("169.254.169.254", 587))
		requireFieldError(t, r, "body.host")
		r = b.do(t, http.MethodPost, smtpPath(w.A), w.OwnerA.Token, smtpBody("127.0.0.1", 587))
		require.Equal(t, http.StatusOK, r.status, "this bundle allows private addresses: %s", r.body)
	})

	t.Run("Delete", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		require.Equal(t, http.StatusOK, b.do(t, http.MethodPost, smtpPath(w.A), w.OwnerA.Token, smtpBody("mail.acme.test", 587)).status)
		r := b.do(t, http.MethodDelete, smtpPath(w.A), w.AdminA.Token, nil)
		require.Equal(t, messageJSON{Message: msgSMTPGone}, decode[messageJSON](t, r, http.StatusOK))
		require.Equal(t, tenancy.SMTPSettings{Port: 587}, b.ownerSMTP(t, w.A))
		var cleared bool
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT num_nonnulls(smtp_host, smtp_port, smtp_username, smtp_password_encrypted,
			smtp_encryption_key_id, smtp_from_email, smtp_from_name) = 0 FROM organizations WHERE id = $1`, w.A.ID).Scan(&cleared))
		require.True(t, cleared)
		rows := b.orgAudit(t, w.A.ID, "organization.smtp.removed")
		require.Len(t, rows, 1)
		require.Equal(t, map[string]any{"host": "mail.acme.test"}, rows[0].Details)

		// Deleting nothing answers the same and records nothing.
		r = b.do(t, http.MethodDelete, smtpPath(w.A), w.AdminA.Token, nil)
		require.Equal(t, messageJSON{Message: msgSMTPGone}, decode[messageJSON](t, r, http.StatusOK))
		require.Len(t, b.orgAudit(t, w.A.ID, "organization.smtp.removed"), 1)
	})
}

// TestSMTPValidation runs under the production policy (no private
// addresses), so that IP literals of private ranges are refused on save.
func TestSMTPValidation(t *testing.T) {
	t.Parallel()
	b := setupSettings(t, false)
	w := b.world(t)
	with := func(changes map[string]any) map[string]any {
		body := smtpBody("mail.acme.test", 587)
		for k, v := range changes {
			if v == nil {
				delete(body, k)
				continue
			}
			body[k] = v
		}
		return body
	}
	cases := []struct {
		Name   string
		Body   map[string]any
		Fields []string
	}{
		{"MissingHost", with(map[string]any{"host": ""}), []string{"body.host"}},
		{"Scheme", with(map[string]any{"host": "smtp://mail.acme.test"}), []string{"body.host"}},
		{"Path", with(map[string]any{"host": "mail.acme.test/relay"}), []string{"body.host"}},
		{"PortInHost", with(map[string]any{"host": "mail.acme.test:25"}), []string{"body.host"}},
		{"Space", with(map[string]any{"host": "mail acme.test"}), []string{"body.host"}},
		{"BadLabel", with(map[string]any{"host": "-mail.acme.test"}), []string{"body.host"}},
		{"Loopback", with(map[string]any{"host": "127.0.0.1"}), []string{"body.host"}},
		{"LoopbackIPv6", with(map[string]any{"host": "[::1]"}), []string{"body.host"}},
		{"Localhost", with(map[string]any{"host": "localhost"}), []string{"body.host"}},
		{"Private", with(map[string]any{"host": "10.1.2.3"}), []string{"body.host"}},
		{"LinkLocal", with(map[string]any{"host": "169.254.7.7"}), []string{"body.host"}},
		{"Metadata", with(map[string]any{"host": "169.254.169.254"}), []string{"body.host"}},
		{"PortTooLarge", with(map[string]any{"port": 70000}), []string{"body.port"}},
		{"NegativePort", with(map[string]any{"port": -1}), []string{"body.port"}},
		{"FromEmail", with(map[string]any{"from_email": "not-an-address"}), []string{"body.from_email"}},
		{"MissingFromEmail", with(map[string]any{"from_email": nil}), []string{"body.from_email"}},
		{"UsernameWithoutPassword", with(map[string]any{"password": nil}), []string{"body.password"}},
		{"PasswordWithoutUsername", with(map[string]any{"username": nil}), []string{"body.username"}},
		{"PasswordLineBreak", with(map[string]any{"password": "a\r\nb"}), []string{"body.password"}},
		{"FromNameControl", with(map[string]any{"from_name": "Acme\r\nBcc: x@evil.test"}), []string{"body.from_name"}},
		{"EveryProblemAtOnce", with(map[string]any{"host": "http://x", "from_name": "a\nb", "password": nil}),
			[]string{"body.host", "body.from_name", "body.password"}},
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			r := b.do(t, http.MethodPost, smtpPath(w.A), w.OwnerA.Token, tc.Body)
			for _, f := range tc.Fields {
				requireFieldError(t, r, f)
			}
			require.NotContains(t, string(r.body), smtpPassword)
		})
	}
	require.False(t, b.ownerSMTP(t, w.A).Configured)
	require.Empty(t, b.orgAudit(t, w.A.ID, "organization.smtp.configured"))
}

// TestSMTPDelivery drives the email worker with the module's sender
// resolver: an invitation email of an organization with its own SMTP
// settings is delivered through its server (with its credentials, over
// STARTTLS, resolved by the configured DNS server); a change applies to the
// next email; once deleted, emails go through the platform server again.
func TestSMTPDelivery(t *testing.T) {
	t.Parallel()
	b := setupSettings(t, true)
	platformCatch := startCatcher(t, mailcatch.Options{})
	orgCatch := startCatcher(t, mailcatch.Options{TLSConfig: b.serverTLS})
	platformSender, err := mail.NewSMTPSender(mail.SMTPConfig{Host: "127.0.0.1", Port: platformCatch.port, TLS: mail.TLSNone,
		FromEmail: "noreply@authos.test", Timeout: 5 * time.Second})
	require.NoError(t, err)
	templates, err := mail.LoadTemplates()
	require.NoError(t, err)
	resolver := b.mod.SMTPSenders(platformSender)
	emailWorker, err := jobs.NewEmailWorker(b.ring, templates, resolver)
	require.NoError(t, err)

	w := b.world(t)
	b.setMaxUsers(t, w.A, 20)
	mx := "mx-" + uuid.NewString()[:8] + ".smtp.test"
	b.dns.setA(mx, "127.0.0.1")

	// sendInvitation invites a new address to A and works its email job.
	sendInvitation := func(t *testing.T) string {
		t.Helper()
		to := "invitee-" + uuid.NewString()[:8] + "@example.test"
		b.invite(t, w.A, w.OwnerA, to, "member")
		emails := b.invitationEmails(t, to)
		require.Len(t, emails, 1)
		require.Equal(t, w.A.ID, *emails[0].Args.OrgID)
		tx, err := b.pool.Begin(t.Context())
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(t.Context()) }()
		res, err := rivertest.NewWorker(t, riverpgxv5.New(b.pool), &river.Config{}, emailWorker).Work(t.Context(), t, tx, emails[0].Args, nil)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobCompleted, res.EventKind)
		return to
	}

	to := sendInvitation(t)
	require.Len(t, platformCatch.to(to), 1, "without its own settings the organization uses the platform server")

	r := b.do(t, http.MethodPost, smtpPath(w.A), w.OwnerA.Token, smtpBody(mx, orgCatch.port))
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	to = sendInvitation(t)
	got := orgCatch.waitTo(t, to)
	require.Equal(t, "noreply@acme.test", got.From)
	require.Contains(t, got.Header.Get("From"), "Acme Mail")
	require.Equal(t, smtpUser, got.Username, "the decrypted credentials authenticate")
	require.True(t, got.TLS, "credentials only travel over STARTTLS")
	require.Contains(t, got.Text, w.A.Slug)
	require.Empty(t, platformCatch.to(to))

	// A change applies to the next email: nothing is cached.
	body := smtpBody(mx, orgCatch.port)
	body["from_email"] = "hello@acme.test"
	require.Equal(t, http.StatusOK, b.do(t, http.MethodPost, smtpPath(w.A), w.OwnerA.Token, body).status)
	to = sendInvitation(t)
	require.Equal(t, "hello@acme.test", orgCatch.waitTo(t, to).From)

	require.Equal(t, http.StatusOK, b.do(t, http.MethodDelete, smtpPath(w.A), w.OwnerA.Token, nil).status)
	to = sendInvitation(t)
	require.Len(t, platformCatch.to(to), 1, "deleted settings fall back to the platform server")
	require.Empty(t, orgCatch.to(to))

	t.Run("PlatformOnlyWithoutOrganization", func(t *testing.T) {
		s, err := resolver.SenderFor(t.Context(), nil)
		require.NoError(t, err)
		require.Same(t, platformSender, s)
		missing := uuid.New()
		s, err = resolver.SenderFor(t.Context(), &missing)
		require.NoError(t, err)
		require.Same(t, platformSender, s, "an organization that is gone falls back too")
	})

	t.Run("NoPlatformServer", func(t *testing.T) {
		_, err := b.mod.SMTPSenders(nil).SenderFor(t.Context(), &w.B.ID)
		require.ErrorIs(t, err, jobs.ErrNoSender)
	})

	t.Run("CiphertextIsBoundToItsOrganization", func(t *testing.T) {
		b.saveSMTP(t, w.B, tenancy.SMTPUpdate{Host: mx, Port: orgCatch.port, Username: smtpUser, Password: smtpPassword, FromEmail: "b@acme.test"})
		other := b.activeOrg(t, b.user(t, "copy"))
		_, err := b.pool.Exec(t.Context(), `UPDATE organizations o SET smtp_host = s.smtp_host, smtp_port = s.smtp_port,
			smtp_username = s.smtp_username, smtp_password_encrypted = s.smtp_password_encrypted,
			smtp_encryption_key_id = s.smtp_encryption_key_id, smtp_from_email = s.smtp_from_email
			FROM organizations s WHERE s.id = $1 AND o.id = $2`, w.B.ID, other.ID)
		require.NoError(t, err)
		_, err = resolver.SenderFor(t.Context(), &other.ID)
		require.Error(t, err, "a password copied to another organization does not decrypt")
		require.NotContains(t, err.Error(), smtpPassword)
		s, err := resolver.SenderFor(t.Context(), &w.B.ID)
		require.NoError(t, err)
		require.NotSame(t, platformSender, s)
	})
}

func TestSMTPTestEndpoint(t *testing.T) {
	t.Parallel()
	b := setupSettings(t, true)
	c := startCatcher(t, mailcatch.Options{RejectRecipient: func(addr string) (int, string) {
		if strings.HasPrefix(addr, "gone-") {
			return 550, "5.1.1 no such user"
		}
		return 0, ""
	}})

	t.Run("DefaultsToTheCaller", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		b.saveSMTP(t, w.A, tenancy.SMTPUpdate{Host: "127.0.0.1", Port: c.port, FromEmail: "noreply@acme.test"})
		r := b.do(t, http.MethodPost, smtpPath(w.A, "/test"), w.AdminA.Token, nil)
		require.Equal(t, smtpTestJSON{Success: true, Message: "Test email sent to " + w.AdminA.Email}, decode[smtpTestJSON](t, r, http.StatusOK))
		got := c.waitTo(t, w.AdminA.Email)
		require.Equal(t, "Test email from Org "+w.A.Slug, got.Subject)
		require.Equal(t, "noreply@acme.test", got.From)
	})

	t.Run("ExplicitRecipient", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		b.saveSMTP(t, w.A, tenancy.SMTPUpdate{Host: "127.0.0.1", Port: c.port, FromEmail: "noreply@acme.test"})
		to := "ops-" + uuid.NewString()[:8] + "@acme.test"
		r := b.do(t, http.MethodPost, smtpPath(w.A, "/test"), w.OwnerA.Token, map[string]string{"to": to})
		require.True(t, decode[smtpTestJSON](t, r, http.StatusOK).Success)
		c.waitTo(t, to)
		require.Empty(t, c.to(w.OwnerA.Email))
	})

	t.Run("RefusalIsReported", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		b.saveSMTP(t, w.A, tenancy.SMTPUpdate{Host: "127.0.0.1", Port: c.port, FromEmail: "noreply@acme.test"})
		r := b.do(t, http.MethodPost, smtpPath(w.A, "/test"), w.OwnerA.Token, map[string]string{"to": "gone-" + uuid.NewString()[:8] + "@acme.test"})
		got := decode[smtpTestJSON](t, r, http.StatusOK)
		require.False(t, got.Success)
		require.Contains(t, got.Message, "550")
		require.Contains(t, got.Message, "no such user")
	})

	t.Run("UnreachableServerIsReported", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		closed := portOf(t, ln.Addr().String())
		require.NoError(t, ln.Close())
		b.saveSMTP(t, w.A, tenancy.SMTPUpdate{Host: "127.0.0.1", Port: closed, Username: smtpUser, Password: smtpPassword, FromEmail: "noreply@acme.test"})
		r := b.do(t, http.MethodPost, smtpPath(w.A, "/test"), w.OwnerA.Token, nil)
		got := decode[smtpTestJSON](t, r, http.StatusOK)
		require.False(t, got.Success)
		require.Contains(t, got.Message, "connection refused")
		require.NotContains(t, got.Message, smtpPassword)
	})

	t.Run("TLSRequiredForCredentials", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		// The catcher offers no STARTTLS: the password is never sent.
		b.saveSMTP(t, w.A, tenancy.SMTPUpdate{Host: "127.0.0.1", Port: c.port, Username: smtpUser, Password: smtpPassword, FromEmail: "noreply@acme.test"})
		r := b.do(t, http.MethodPost, smtpPath(w.A, "/test"), w.OwnerA.Token, nil)
		got := decode[smtpTestJSON](t, r, http.StatusOK)
		require.False(t, got.Success)
		require.Contains(t, got.Message, "STARTTLS")
		require.Empty(t, c.to(w.OwnerA.Email))
	})

	t.Run("UnknownHostIsReported", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		b.saveSMTP(t, w.A, tenancy.SMTPUpdate{Host: "nowhere-" + uuid.NewString()[:8] + ".smtp.test", Port: 25, FromEmail: "noreply@acme.test"})
		r := b.do(t, http.MethodPost, smtpPath(w.A, "/test"), w.OwnerA.Token, nil)
		got := decode[smtpTestJSON](t, r, http.StatusOK)
		require.False(t, got.Success)
		require.Contains(t, got.Message, "does not exist")
		require.NotContains(t, got.Message, b.dns.addr, "the resolver's address is not shown")
	})

	t.Run("NotConfigured", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		r := b.do(t, http.MethodPost, smtpPath(w.A, "/test"), w.OwnerA.Token, nil)
		requireProblem(t, r, http.StatusBadRequest, httpapi.CodeBadRequest, "SMTP is not configured for this organization")
	})

	t.Run("InvalidRecipient", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		b.saveSMTP(t, w.A, tenancy.SMTPUpdate{Host: "127.0.0.1", Port: c.port, FromEmail: "noreply@acme.test"})
		r := b.do(t, http.MethodPost, smtpPath(w.A, "/test"), w.OwnerA.Token, map[string]string{"to": "Someone <x@acme.test>"})
		requireFieldError(t, r, "body.to")
	})

	t.Run("InactiveOrganizationIsRefused", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		b.saveSMTP(t, w.A, tenancy.SMTPUpdate{Host: "127.0.0.1", Port: c.port, FromEmail: "noreply@acme.test"})
		b.setStatus(t, w.A, tenancy.StatusPending)
		r := b.do(t, http.MethodPost, smtpPath(w.A, "/test"), w.OwnerA.Token, nil)
		requireProblem(t, r, http.StatusForbidden, tenancy.CodeOrganizationNotActive, "Organization is not active. Current status: pending")
		require.Empty(t, c.to(w.OwnerA.Email))
	})
}

// TestSMTPSSRF checks that under the production policy neither the test
// endpoint nor the email worker ever connects to a loopback, private,
// link-local or metadata address: not through a host name resolving to
// one, nor through settings stored before the policy changed. A capture
// server listens on loopback to catch any leak.
func TestSMTPSSRF(t *testing.T) {
	t.Parallel()
	b := setupSettings(t, false)
	c := startCatcher(t, mailcatch.Options{})
	cases := []struct {
		Name   string
		IP     string // the name resolves to it
		Stored string // or the host is stored as is
		Msg    string
	}{
		{Name: "NameToLoopback", IP: "127.0.0.1", Msg: "resolves to 127.0.0.1 (loopback), which is not allowed"},
		{Name: "NameToLoopbackIPv6", IP: "::1", Msg: "resolves to ::1 (loopback), which is not allowed"},
		{Name: "NameToPrivate", IP: "10.1.2.3", Msg: "resolves to 10.1.2.3 (private), which is not allowed"},
		{Name: "NameToLinkLocal", IP: "169.254.3.4", Msg: "resolves to 169.254.3.4 (link-local), which is not allowed"},
		{Name: "NameToMetadata", IP: "169.254.169.254", Msg: "resolves to 169.254.169.254 (a cloud metadata address), which is not allowed"},
		{Name: "StoredLoopback", Stored: "127.0.0.1", Msg: "SMTP host 127.0.0.1 (loopback) is not allowed"},
		{Name: "StoredPrivate", Stored: "192.168.10.10", Msg: "SMTP host 192.168.10.10 (private) is not allowed"},
		{Name: "StoredMetadata", Stored: "169.254.169.254", Msg: "SMTP host 169.254.169.254 (a cloud metadata address) is not allowed"},
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			w := b.world(t)
			host := tc.Stored
			if host == "" {
				host = "relay-" + uuid.NewString()[:8] + ".smtp.test"
				b.dns.setA(host, tc.IP)
				r := b.do(t, http.MethodPost, smtpPath(w.A), w.OwnerA.Token, map[string]any{"host": host, "port": c.port, "from_email": "n@acme.test"})
				require.Equal(t, http.StatusOK, r.status, "names are resolved when used, not when saved: %s", r.body)
			} else {
				b.setSMTPRow(t, w.A, host, c.port)
			}
			r := b.do(t, http.MethodPost, smtpPath(w.A, "/test"), w.OwnerA.Token, nil)
			p := requireProblem(t, r, http.StatusBadRequest, httpapi.CodeBadRequest, "")
			require.Contains(t, p.Error, tc.Msg)
			require.Contains(t, p.Error, "Loopback, private, link-local and cloud metadata addresses are refused.")

			// The email worker's sender refuses the same connection.
			sender, err := b.mod.SMTPSenders(nil).SenderFor(t.Context(), &w.A.ID)
			require.NoError(t, err)
			err = sender.Send(t.Context(), mail.Message{To: []string{w.OwnerA.Email}, Subject: "x", Text: "x"})
			require.ErrorIs(t, err, outbound.ErrForbiddenAddress)
			require.Empty(t, c.to(w.OwnerA.Email), "nothing reached the loopback server")
		})
	}
}
