package tenancy_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/dns/dnsmessage"

	"github.com/authos/authos/jobs"
	"github.com/authos/authos/modules/tenancy"
	"github.com/authos/authos/platform/httpapi"
	"github.com/authos/authos/platform/outbound"
)

// ---- test network: a DNS server, a web server for the domain files and a
// certificate for SMTP servers

// testDNS is an authoritative UDP DNS server for the test's names: A and
// AAAA from addrs, TXT from txt. Known names without a record of the asked
// type answer NOERROR and no answer; others NXDOMAIN.
type testDNS struct {
	addr  string
	mu    sync.Mutex
	addrs map[string][]netip.Addr // lowercase FQDN with the trailing dot
	txt   map[string][]string
}

func startTestDNS(t *testing.T) *testDNS {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = pc.Close() })
	d := &testDNS{addr: pc.LocalAddr().String(), addrs: map[string][]netip.Addr{}, txt: map[string][]string{}}
	go d.serve(pc)
	return d
}

func fqdn(name string) string { return strings.ToLower(strings.TrimSuffix(name, ".")) + "." }

// setA makes name resolve to ips (IPv4 or IPv6).
func (d *testDNS) setA(name string, ips ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []netip.Addr
	for _, ip := range ips {
		out = append(out, netip.MustParseAddr(ip))
	}
	d.addrs[fqdn(name)] = out
}

// setTXT replaces name's TXT records; no value removes them.
func (d *testDNS) setTXT(name string, values ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(values) == 0 {
		delete(d.txt, fqdn(name))
		return
	}
	d.txt[fqdn(name)] = values
}

func (d *testDNS) serve(pc net.PacketConn) {
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		if out, ok := d.answer(buf[:n]); ok {
			_, _ = pc.WriteTo(out, from)
		}
	}
}

func (d *testDNS) answer(query []byte) ([]byte, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, false
	}
	q, err := p.Question()
	if err != nil {
		return nil, false
	}
	name := strings.ToLower(q.Name.String())
	d.mu.Lock()
	addrs, hasAddrs := d.addrs[name]
	txt, hasTXT := d.txt[name]
	d.mu.Unlock()
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
	if !hasAddrs && !hasTXT {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	_ = b.StartQuestions()
	_ = b.Question(q)
	_ = b.StartAnswers()
	rr := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 1}
	switch q.Type {
	case dnsmessage.TypeA:
		for _, ip := range addrs {
			if ip.Is4() {
				_ = b.AResource(rr, dnsmessage.AResource{A: ip.As4()})
			}
		}
	case dnsmessage.TypeAAAA:
		for _, ip := range addrs {
			if ip.Is6() {
				_ = b.AAAAResource(rr, dnsmessage.AAAAResource{AAAA: ip.As16()})
			}
		}
	case dnsmessage.TypeTXT:
		for _, v := range txt {
			_ = b.TXTResource(rr, dnsmessage.TXTResource{TXT: []string{v}})
		}
	}
	out, err := b.Finish()
	return out, err == nil
}

// domainWeb serves the domains' verification files: one handler per host,
// counting requests. Unknown hosts get 404.
type domainWeb struct {
	port   int
	mu     sync.Mutex
	routes map[string]http.HandlerFunc
	hits   map[string]int
}

func startDomainWeb(t *testing.T) *domainWeb {
	t.Helper()
	web := &domainWeb{routes: map[string]http.HandlerFunc{}, hits: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		web.mu.Lock()
		h := web.routes[strings.ToLower(host)]
		web.hits[strings.ToLower(host)]++
		web.mu.Unlock()
		if h == nil || r.URL.Path != "/.well-known/sso-verification.txt" {
			http.NotFound(w, r)
			return
		}
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	web.port = portOf(t, srv.Listener.Addr().String())
	return web
}

// serve answers host's verification file with h.
func (w *domainWeb) serve(host string, h http.HandlerFunc) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.routes[host] = h
}

// serveText answers host's verification file with body.
func (w *domainWeb) serveText(host, body string) {
	w.serve(host, func(rw http.ResponseWriter, _ *http.Request) { _, _ = rw.Write([]byte(body)) })
}

func (w *domainWeb) hitsOf(host string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.hits[host]
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	port, err := strconv.Atoi(p)
	require.NoError(t, err)
	return port
}

// testServerCert returns a server TLS config for 127.0.0.1, localhost and
// *.smtp.test, and a pool trusting it.
func testServerCert(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tenancy smtp test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost", "*.smtp.test"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}, pool
}

// settingsBundle is a test bundle whose module reaches the test's own DNS
// server, domain web server and SMTP servers, under an outbound policy
// that allows private addresses or not.
type settingsBundle struct {
	*testBundle
	dns       *testDNS
	web       *domainWeb
	serverTLS *tls.Config // for mailcatch STARTTLS; the module trusts it
}

func setupSettings(t *testing.T, allowPrivate bool) *settingsBundle {
	t.Helper()
	dns := startTestDNS(t)
	web := startDomainWeb(t)
	serverTLS, roots := testServerCert(t)
	b := setup(t, func(c *tenancy.Config) {
		c.Outbound = outbound.Policy{AllowPrivate: allowPrivate}
		c.DNSServer = dns.addr
		c.DomainHTTPPort = web.port
		c.SMTPRootCAs = roots
	})
	return &settingsBundle{testBundle: b, dns: dns, web: web, serverTLS: serverTLS}
}

// ---- custom domain helpers

func domainPath(o org, rest ...string) string {
	return "/api/organizations/" + o.Slug + "/domain" + strings.Join(rest, "")
}

// newDomain returns a unique domain under example.test.
func newDomain(prefix string) string {
	return prefix + "-" + uuid.NewString()[:8] + ".example.test"
}

type domainJSON struct {
	CustomDomain   *string `json:"custom_domain"`
	DomainVerified bool    `json:"domain_verified"`
}

type verificationMethodJSON struct {
	Method       string `json:"method"`
	Instructions string `json:"instructions"`
	RecordType   string `json:"record_type"`
	RecordName   string `json:"record_name"`
	RecordValue  string `json:"record_value"`
}

type domainSetupJSON struct {
	VerificationToken   string                   `json:"verification_token"`
	VerificationMethods []verificationMethodJSON `json:"verification_methods"`
}

type verifyJSON struct {
	Verified bool   `json:"verified"`
	Method   string `json:"method"`
	Message  string `json:"message"`
}

const msgCustomDomain = "The feature 'Custom Domain' is not available on your current plan. Please upgrade to access it."

// setTier moves o to a tier directly.
func (b *testBundle) setTier(t *testing.T, o org, tierID string) {
	t.Helper()
	_, err := b.pool.Exec(t.Context(), `UPDATE organizations SET tier_id = $2 WHERE id = $1`, o.ID, tierID)
	require.NoError(t, err)
}

// setDomain sets o's custom domain through the API as its owner and
// returns the verification token.
func (b *testBundle) setDomain(t *testing.T, o org, domain string) string {
	t.Helper()
	r := b.do(t, http.MethodPost, domainPath(o), o.Owner.Token, map[string]string{"domain": domain})
	got := decode[domainSetupJSON](t, r, http.StatusOK)
	require.NotEmpty(t, got.VerificationToken)
	return got.VerificationToken
}

// verify runs the verification through the API as o's owner.
func (b *testBundle) verify(t *testing.T, o org) verifyJSON {
	t.Helper()
	return decode[verifyJSON](t, b.do(t, http.MethodPost, domainPath(o, "/verify"), o.Owner.Token, nil), http.StatusOK)
}

// domainState reads o's stored domain columns.
type domainState struct {
	Domain   *string
	Token    *string
	Verified bool
	Method   *string
	Failures int
}

func (b *testBundle) domainState(t *testing.T, o org) domainState {
	t.Helper()
	var s domainState
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT custom_domain, domain_verification_token, domain_verified,
		domain_verification_method, domain_check_failures FROM organizations WHERE id = $1`, o.ID).
		Scan(&s.Domain, &s.Token, &s.Verified, &s.Method, &s.Failures))
	return s
}

// verifiedDomain gives o (moved to tier_pro) a domain verified by DNS and
// returns it with its token.
func (b *settingsBundle) verifiedDomain(t *testing.T, o org) (string, string) {
	t.Helper()
	b.setTier(t, o, "tier_pro")
	d := newDomain("verified")
	token := b.setDomain(t, o, d)
	b.dns.setTXT("_sso-verification."+d, token)
	require.True(t, b.verify(t, o).Verified)
	return d, token
}

// ---- tests

// TestDomainAuthorization runs the four domain routes against every kind
// of caller, each on a fresh world whose org A is on tier_pro with a seeded
// domain. Refused callers see nothing and change nothing.
func TestDomainAuthorization(t *testing.T) {
	t.Parallel()
	b := setupSettings(t, true)
	const (
		msgSettings = "Insufficient permissions to manage organization settings"
		msgMembers  = "You must be a member of this organization"
	)
	endpoints := []struct {
		Name   string
		Method string
		Path   string
		Body   any
		Status int
		Event  string
		Cases  []matrixCase
	}{
		{
			Name: "Get", Method: http.MethodGet, Status: http.StatusOK,
			Cases: []matrixCase{noToken(), adminOfOtherOrg().withMsg(msgMembers), forbiddenCase("Stranger", stranger, msgMembers),
				okCase("Member", memberA), okCase("Admin", adminA), okCase("PlatformOwner", platformOwner)},
		},
		{
			Name: "Set", Method: http.MethodPost, Body: map[string]string{"domain": "placeholder"}, Status: http.StatusOK, Event: "domain.set",
			Cases: []matrixCase{noToken(), adminOfOtherOrg(), forbiddenCase("Stranger", stranger, msgNotMember),
				forbiddenCase("MemberWithoutCapability", memberA, msgSettings), okCase("Admin", adminA), okCase("Owner", ownerA),
				okCase("PlatformOwner", platformOwner)},
		},
		{
			Name: "Verify", Method: http.MethodPost, Path: "/verify", Status: http.StatusOK, Event: "domain.verified",
			Cases: []matrixCase{noToken(), adminOfOtherOrg(), forbiddenCase("MemberWithoutCapability", memberA, msgSettings),
				okCase("Admin", adminA), okCase("PlatformOwner", platformOwner)},
		},
		{
			Name: "Delete", Method: http.MethodDelete, Status: http.StatusNoContent, Event: "domain.deleted",
			Cases: []matrixCase{noToken(), adminOfOtherOrg(), forbiddenCase("MemberWithoutCapability", memberA, msgSettings),
				okCase("Admin", adminA), okCase("PlatformOwner", platformOwner)},
		},
	}
	for _, ep := range endpoints {
		t.Run(ep.Name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range ep.Cases {
				t.Run(tc.Name, func(t *testing.T) {
					t.Parallel()
					w := b.world(t)
					b.setTier(t, w.A, "tier_pro")
					seeded := newDomain("seeded")
					token := b.setDomain(t, w.A, seeded)
					b.dns.setTXT("_sso-verification."+seeded, token)
					eventsBefore := 0
					if ep.Event != "" {
						eventsBefore = len(b.orgAudit(t, w.A.ID, ep.Event))
					}
					body := ep.Body
					newD := newDomain("new")
					if ep.Name == "Set" {
						body = map[string]string{"domain": newD}
					}
					r := b.do(t, ep.Method, domainPath(w.A, ep.Path), tc.Caller(w), body)
					if tc.WantStatus != http.StatusOK {
						requireProblem(t, r, tc.WantStatus, tc.WantCode, tc.WantMsg)
						require.NotContains(t, string(r.body), seeded)
						require.NotContains(t, string(r.body), token)
						st := b.domainState(t, w.A)
						require.Equal(t, seeded, *st.Domain, "a refused call changes nothing")
						require.Equal(t, token, *st.Token)
						require.False(t, st.Verified)
						if ep.Event != "" {
							require.Len(t, b.orgAudit(t, w.A.ID, ep.Event), eventsBefore)
						}
						return
					}
					require.Equal(t, ep.Status, r.status, string(r.body))
					switch ep.Name {
					case "Get":
						require.Equal(t, domainJSON{CustomDomain: &seeded}, decode[domainJSON](t, r, http.StatusOK))
					case "Set":
						got := decode[domainSetupJSON](t, r, http.StatusOK)
						require.NotEqual(t, token, got.VerificationToken)
						require.Equal(t, newD, *b.domainState(t, w.A).Domain)
					case "Verify":
						require.True(t, decode[verifyJSON](t, r, http.StatusOK).Verified)
						require.True(t, b.domainState(t, w.A).Verified)
					case "Delete":
						require.Empty(t, r.body)
						require.Nil(t, b.domainState(t, w.A).Domain)
					}
					if ep.Event != "" {
						rows := b.orgAudit(t, w.A.ID, ep.Event)
						require.Len(t, rows, eventsBefore+1)
						wantActor := "user"
						if tc.Name == "PlatformOwner" {
							wantActor = "platform_owner"
						}
						require.Equal(t, wantActor, rows[0].ActorType)
					}
				})
			}
		})
	}

	t.Run("UnknownOrganization", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		r := b.do(t, http.MethodGet, "/api/organizations/"+newSlug("nope")+"/domain", w.OwnerA.Token, nil)
		requireProblem(t, r, http.StatusNotFound, httpapi.CodeNotFound, "Organization not found")
	})
}

func TestDomainSet(t *testing.T) {
	t.Parallel()
	b := setupSettings(t, true)

	t.Run("AnswersTokenAndMethods", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		b.setTier(t, w.A, "tier_pro")
		d := newDomain("auth")
		r := b.do(t, http.MethodPost, domainPath(w.A), w.AdminA.Token, map[string]string{"domain": "  " + strings.ToUpper(d) + ". "})
		got := decode[domainSetupJSON](t, r, http.StatusOK)
		_, err := uuid.Parse(got.VerificationToken)
		require.NoError(t, err, "the token is a random UUID")
		require.Len(t, got.VerificationMethods, 2)
		dnsM, httpM := got.VerificationMethods[0], got.VerificationMethods[1]
		require.Equal(t, "DNS TXT Record", dnsM.Method)
		require.Equal(t, "TXT", dnsM.RecordType)
		require.Equal(t, "_sso-verification."+d, dnsM.RecordName)
		require.Equal(t, got.VerificationToken, dnsM.RecordValue)
		require.Contains(t, dnsM.Instructions, "_sso-verification."+d)
		require.Equal(t, "HTTP File", httpM.Method)
		require.Equal(t, got.VerificationToken, httpM.RecordValue)
		require.Contains(t, httpM.Instructions, "http://"+d+"/.well-known/sso-verification.txt")

		st := b.domainState(t, w.A)
		require.Equal(t, d, *st.Domain, "stored normalised: lowercase, no trailing dot")
		require.Equal(t, got.VerificationToken, *st.Token)
		require.False(t, st.Verified)
		r = b.do(t, http.MethodGet, domainPath(w.A), w.MemberA.Token, nil)
		require.Equal(t, domainJSON{CustomDomain: &d}, decode[domainJSON](t, r, http.StatusOK))

		rows := b.orgAudit(t, w.A.ID, "domain.set")
		require.Len(t, rows, 1)
		require.Equal(t, map[string]any{"domain": d}, rows[0].Details)
		require.Equal(t, w.AdminA.ID, *rows[0].ActorID)
		require.Equal(t, w.A.ID.String(), rows[0].TargetID)
	})

	t.Run("UnsetDomainIsNull", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		r := b.do(t, http.MethodGet, domainPath(w.A), w.MemberA.Token, nil)
		require.JSONEq(t, `{"custom_domain": null, "domain_verified": false}`, string(r.body))
	})

	t.Run("ReplacingResetsVerification", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		first, firstToken := b.verifiedDomain(t, w.A)
		second := newDomain("second")
		token := b.setDomain(t, w.A, second)
		require.NotEqual(t, firstToken, token)
		st := b.domainState(t, w.A)
		require.Equal(t, domainState{Domain: &second, Token: &token}, st)
		require.False(t, b.mod.VerifiedOriginAllowed(t.Context(), "https://"+first))

		// Setting the same domain again issues a new token too.
		again := b.setDomain(t, w.A, second)
		require.NotEqual(t, token, again)
	})

	t.Run("FreeTierIsRefused", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		r := b.do(t, http.MethodPost, domainPath(w.A), w.OwnerA.Token, map[string]string{"domain": newDomain("free")})
		requireProblem(t, r, http.StatusForbidden, tenancy.CodeFeatureNotAvailableInTier, msgCustomDomain)
		require.Nil(t, b.domainState(t, w.A).Domain)
		require.Empty(t, b.orgAudit(t, w.A.ID, "domain.set"))
	})

	t.Run("WidenedByFeatureOverrides", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		r := b.do(t, http.MethodPatch, "/api/platform/organizations/"+w.A.ID.String()+"/features", w.PO.Token,
			map[string]any{"allow_custom_domain": true})
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		b.setDomain(t, w.A, newDomain("override"))
	})

	t.Run("InactiveOrganizationIsRefused", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		o := b.createOrg(t, w.OwnerA)
		b.setTier(t, o, "tier_pro")
		r := b.do(t, http.MethodPost, domainPath(o), w.OwnerA.Token, map[string]string{"domain": newDomain("pending")})
		requireProblem(t, r, http.StatusForbidden, tenancy.CodeOrganizationNotActive, "Organization is not active. Current status: pending")
	})

	t.Run("UniqueAcrossOrganizations", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		b.setTier(t, w.A, "tier_pro")
		b.setTier(t, w.B, "tier_pro")
		d := newDomain("taken")
		b.setDomain(t, w.A, d)
		r := b.do(t, http.MethodPost, domainPath(w.B), w.OwnerB.Token, map[string]string{"domain": strings.ToUpper(d)})
		requireProblem(t, r, http.StatusConflict, httpapi.CodeDuplicateConstraint, "This domain is already in use by another organization")
		require.Nil(t, b.domainState(t, w.B).Domain)
		require.Empty(t, b.orgAudit(t, w.B.ID, "domain.set"))
		// Once A lets it go, B can take it.
		require.Equal(t, http.StatusNoContent, b.do(t, http.MethodDelete, domainPath(w.A), w.OwnerA.Token, nil).status)
		b.setDomain(t, w.B, d)
	})

	t.Run("Delete", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		d, _ := b.verifiedDomain(t, w.A)
		require.True(t, b.mod.VerifiedOriginAllowed(t.Context(), "https://"+d))
		r := b.do(t, http.MethodDelete, domainPath(w.A), w.OwnerA.Token, nil)
		require.Equal(t, http.StatusNoContent, r.status, string(r.body))
		require.Equal(t, domainState{}, b.domainState(t, w.A))
		require.False(t, b.mod.VerifiedOriginAllowed(t.Context(), "https://"+d), "this process forgets it at once")
		rows := b.orgAudit(t, w.A.ID, "domain.deleted")
		require.Len(t, rows, 1)
		require.Equal(t, map[string]any{"domain": d, "was_verified": true}, rows[0].Details)

		// Deleting nothing is a no-op.
		require.Equal(t, http.StatusNoContent, b.do(t, http.MethodDelete, domainPath(w.A), w.OwnerA.Token, nil).status)
		require.Len(t, b.orgAudit(t, w.A.ID, "domain.deleted"), 1)
	})
}

func TestDomainValidation(t *testing.T) {
	t.Parallel()
	b := setupSettings(t, true)
	w := b.world(t)
	b.setTier(t, w.A, "tier_pro")

	invalid := []struct{ Name, Domain string }{
		{"Empty", "   "},
		{"Scheme", "https://auth.example.com"},
		{"Path", "auth.example.com/login"},
		{"Port", "auth.example.com:8443"},
		{"IPv4", "203.0.113.10"},
		{"IPv6", "[2001:db8::1]"},
		{"SingleLabel", "intranet"},
		{"Localhost", "localhost"},
		{"LocalTLD", "printer.local"},
		{"NumericTLD", "auth.example.123"},
		{"Unicode", "bücher.example"},
		{"InvalidPunycode", "xn--zz.example"},
		{"LeadingHyphen", "-auth.example.com"},
		{"Underscore", "auth_1.example.com"},
		{"EmptyLabel", "auth..example.com"},
		{"Credentials", "user@auth.example.com"},
		{"TooLong", strings.Repeat(strings.Repeat("a", 60)+".", 4) + "example.com"},
		{"LabelTooLong", strings.Repeat("a", 64) + ".example.com"},
	}
	for _, tc := range invalid {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			r := b.do(t, http.MethodPost, domainPath(w.A), w.OwnerA.Token, map[string]string{"domain": tc.Domain})
			requireFieldError(t, r, "body.domain")
		})
	}
	require.Nil(t, b.domainState(t, w.A).Domain)

	valid := []struct{ Name, In, Want string }{
		{"Punycode", "xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"UppercaseAndTrailingDot", "Login.Example.COM.", "login.example.com"},
	}
	for _, tc := range valid {
		t.Run(tc.Name, func(t *testing.T) {
			got, err := tenancy.NormalizeDomain(tc.In)
			require.NoError(t, err)
			require.Equal(t, tc.Want, got)
		})
	}
}

func TestDomainVerifyDNS(t *testing.T) {
	t.Parallel()
	b := setupSettings(t, true)

	t.Run("MatchingTXTRecord", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		b.setTier(t, w.A, "tier_pro")
		d := newDomain("dns")
		token := b.setDomain(t, w.A, d)
		b.dns.setTXT("_sso-verification."+d, "v=spf1 -all", token)
		got := b.verify(t, w.A)
		require.Equal(t, verifyJSON{Verified: true, Method: "DNS", Message: "Domain verified successfully via DNS TXT record"}, got)
		st := b.domainState(t, w.A)
		require.True(t, st.Verified)
		require.Equal(t, "dns", *st.Method)
		require.Zero(t, b.web.hitsOf(d), "the HTTP file is not fetched once DNS succeeded")
		r := b.do(t, http.MethodGet, domainPath(w.A), w.MemberA.Token, nil)
		require.Equal(t, domainJSON{CustomDomain: &d, DomainVerified: true}, decode[domainJSON](t, r, http.StatusOK))

		rows := b.orgAudit(t, w.A.ID, "domain.verified")
		require.Len(t, rows, 1)
		require.Equal(t, map[string]any{"domain": d, "method": "DNS"}, rows[0].Details)

		// Verifying again answers without a second event.
		again := b.verify(t, w.A)
		require.True(t, again.Verified)
		require.Len(t, b.orgAudit(t, w.A.ID, "domain.verified"), 1)
	})

	t.Run("WrongTXTRecordFails", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		b.setTier(t, w.A, "tier_pro")
		d := newDomain("wrong")
		b.setDomain(t, w.A, d)
		b.dns.setTXT("_sso-verification."+d, uuid.NewString())
		got := b.verify(t, w.A)
		require.False(t, got.Verified)
		require.Empty(t, got.Method)
		require.Contains(t, got.Message, "does not match the verification token")
		require.False(t, b.domainState(t, w.A).Verified)
		require.Empty(t, b.orgAudit(t, w.A.ID, "domain.verified"))
	})

	t.Run("MissingRecordFails", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		b.setTier(t, w.A, "tier_pro")
		d := newDomain("missing")
		b.setDomain(t, w.A, d)
		got := b.verify(t, w.A)
		require.False(t, got.Verified)
		require.Contains(t, got.Message, "no TXT record found at _sso-verification."+d)
		require.Contains(t, got.Message, "HTTP file: the domain could not be resolved")
	})

	t.Run("NoDomainConfigured", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		r := b.do(t, http.MethodPost, domainPath(w.A, "/verify"), w.OwnerA.Token, nil)
		requireProblem(t, r, http.StatusBadRequest, httpapi.CodeBadRequest, "No custom domain configured")
	})

	t.Run("InactiveOrganizationIsRefused", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		b.setTier(t, w.A, "tier_pro")
		d := newDomain("suspended")
		token := b.setDomain(t, w.A, d)
		b.dns.setTXT("_sso-verification."+d, token)
		b.setStatus(t, w.A, tenancy.StatusSuspended)
		r := b.do(t, http.MethodPost, domainPath(w.A, "/verify"), w.OwnerA.Token, nil)
		requireProblem(t, r, http.StatusForbidden, tenancy.CodeOrganizationNotActive, "Organization is not active. Current status: suspended")
		require.False(t, b.domainState(t, w.A).Verified)
	})
}

func TestDomainVerifyHTTP(t *testing.T) {
	t.Parallel()
	b := setupSettings(t, true)

	// fileDomain sets a domain of A resolving to the local web server and
	// returns it with its token.
	fileDomain := func(t *testing.T, w world) (string, string) {
		t.Helper()
		b.setTier(t, w.A, "tier_pro")
		d := newDomain("http")
		token := b.setDomain(t, w.A, d)
		b.dns.setA(d, "127.0.0.1")
		return d, token
	}

	t.Run("FileContainsToken", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		d, token := fileDomain(t, w)
		b.web.serveText(d, token+"\n")
		got := b.verify(t, w.A)
		require.Equal(t, verifyJSON{Verified: true, Method: "HTTP", Message: "Domain verified successfully via HTTP file"}, got)
		require.Equal(t, 1, b.web.hitsOf(d))
		require.Equal(t, "http", *b.domainState(t, w.A).Method)
		rows := b.orgAudit(t, w.A.ID, "domain.verified")
		require.Len(t, rows, 1)
		require.Equal(t, map[string]any{"domain": d, "method": "HTTP"}, rows[0].Details)
	})

	failures := []struct {
		Name    string
		Serve   func(d, token string) http.HandlerFunc
		Message string
	}{
		{"NotFound", nil, "answered HTTP 404"},
		{"WrongContent", func(string, string) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(uuid.NewString())) }
		}, "does not contain the verification token"},
		{"TooLarge", func(_, token string) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte(strings.Repeat("x", 5000) + token))
			}
		}, "is larger than 4096 bytes"},
		{"ServerError", func(string, string) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) }
		}, "answered HTTP 500"},
		{"RedirectToMetadata", func(string, string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
			}
		}, "answered with a redirect (HTTP 302), which is not followed"},
	}
	for _, tc := range failures {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			w := b.world(t)
			d, token := fileDomain(t, w)
			if tc.Serve != nil {
				b.web.serve(d, tc.Serve(d, token))
			}
			got := b.verify(t, w.A)
			require.False(t, got.Verified)
			require.Contains(t, got.Message, tc.Message)
			require.Equal(t, 1, b.web.hitsOf(d))
			require.False(t, b.domainState(t, w.A).Verified)
			require.Empty(t, b.orgAudit(t, w.A.ID, "domain.verified"))
		})
	}

	t.Run("RedirectIsNotFollowed", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		d, token := fileDomain(t, w)
		// The redirect target would prove the token: it must never be asked.
		target := newDomain("target")
		b.dns.setA(target, "127.0.0.1")
		b.web.serveText(target, token)
		b.web.serve(d, func(rw http.ResponseWriter, r *http.Request) {
			http.Redirect(rw, r, "http://"+target+":"+strconv.Itoa(b.web.port)+"/.well-known/sso-verification.txt", http.StatusMovedPermanently)
		})
		got := b.verify(t, w.A)
		require.False(t, got.Verified)
		require.Contains(t, got.Message, "HTTP 301")
		require.Zero(t, b.web.hitsOf(target))
	})
}

// TestDomainVerifySSRF checks that with the production policy (no private
// addresses) the HTTP file check never connects to a loopback, private,
// link-local or metadata address, whatever the domain resolves to; the
// local web server would prove every token.
func TestDomainVerifySSRF(t *testing.T) {
	t.Parallel()
	b := setupSettings(t, false)
	cases := []struct{ Name, IP, Reason string }{
		{"Loopback", "127.0.0.1", "127.0.0.1 (loopback)"},
		{"LoopbackIPv6", "::1", "::1 (loopback)"},
		{"Private10", "10.20.30.40", "10.20.30.40 (private)"},
		{"Private192", "192.168.1.20", "192.168.1.20 (private)"},
		{"Private172", "172.16.5.5", "172.16.5.5 (private)"},
		{"LinkLocal", "169.254.10.10", "169.254.10.10 (link-local)"},
		{"Metadata", "169.254.169.254", "169.254.169.254 (a cloud metadata address)"},
		{"Unspecified", "0.0.0.0", "0.0.0.0 (this-network)"},
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			w := b.world(t)
			b.setTier(t, w.A, "tier_pro")
			d := newDomain("ssrf")
			token := b.setDomain(t, w.A, d)
			b.dns.setA(d, tc.IP)
			b.web.serveText(d, token)
			got := b.verify(t, w.A)
			require.False(t, got.Verified)
			require.Contains(t, got.Message, "HTTP file: refused: host "+d+" resolves to "+tc.Reason+", which is not allowed.")
			require.Zero(t, b.web.hitsOf(d))
			require.False(t, b.domainState(t, w.A).Verified)
		})
	}

	t.Run("DNSVerificationStillWorks", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		b.setTier(t, w.A, "tier_pro")
		d := newDomain("dns-only")
		token := b.setDomain(t, w.A, d)
		b.dns.setA(d, "10.0.0.1")
		b.dns.setTXT("_sso-verification."+d, token)
		require.True(t, b.verify(t, w.A).Verified)
	})
}

// TestRecheckDomains runs the daily re-check the way River does. It owns
// its bundle: it moves the clock.
func TestRecheckDomains(t *testing.T) {
	t.Parallel()
	b := setupSettings(t, true)
	w := b.world(t)
	lostD, lostToken := b.verifiedDomain(t, w.A)
	keptD, _ := b.verifiedDomain(t, w.B)
	flaky := b.activeOrg(t, b.user(t, "flaky"))
	flakyD, flakyToken := b.verifiedDomain(t, flaky)
	unverified := b.activeOrg(t, b.user(t, "unverified"))
	b.setTier(t, unverified, "tier_pro")
	b.setDomain(t, unverified, newDomain("unverified"))

	worker := tenancy.NewRecheckDomainsWorker(b.mod.Settings())
	work := func(t *testing.T) {
		t.Helper()
		tx, err := b.pool.Begin(t.Context())
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(t.Context()) }()
		res, err := rivertest.NewWorker(t, riverpgxv5.New(b.pool), &river.Config{}, worker).
			Work(t.Context(), t, tx, tenancy.RecheckDomainsArgs{}, nil)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobCompleted, res.EventKind)
	}
	failures := func(o org) int { return b.domainState(t, o).Failures }

	// A's domain loses its TXT record; B's keeps it; the flaky one fails
	// twice, then recovers.
	b.dns.setTXT("_sso-verification." + lostD)
	b.dns.setTXT("_sso-verification." + flakyD)
	require.True(t, b.mod.VerifiedOriginAllowed(t.Context(), "https://"+lostD))

	work(t)
	require.Zero(t, failures(w.A), "checked less than a day ago: not due")

	for day := 1; day <= 2; day++ {
		b.advance(25 * time.Hour)
		work(t)
		require.Equal(t, day, failures(w.A))
		require.True(t, b.domainState(t, w.A).Verified, "still verified after %d failed checks", day)
		require.Equal(t, day, failures(flaky))
		require.Zero(t, failures(w.B))
		work(t)
		require.Equal(t, day, failures(w.A), "a second run the same day checks nothing")
	}

	b.dns.setTXT("_sso-verification."+flakyD, flakyToken)
	b.advance(25 * time.Hour)
	work(t)
	st := b.domainState(t, w.A)
	require.False(t, st.Verified, "the third consecutive failure loses the verification")
	require.Equal(t, lostD, *st.Domain, "the domain itself stays, to be verified again")
	require.Equal(t, lostToken, *st.Token)
	require.Zero(t, st.Failures)
	require.True(t, b.domainState(t, flaky).Verified)
	require.Zero(t, failures(flaky), "a success resets the count")
	require.True(t, b.domainState(t, w.B).Verified)
	require.False(t, b.domainState(t, unverified).Verified, "unverified domains are not re-checked")

	rows := b.orgAudit(t, w.A.ID, "domain.verification_lost")
	require.Len(t, rows, 1)
	require.Equal(t, "system", rows[0].ActorType)
	require.Nil(t, rows[0].ActorID)
	require.Equal(t, lostD, rows[0].Details["domain"])
	require.InDelta(t, 3, rows[0].Details["failed_checks"], 0)
	require.Contains(t, rows[0].Details["reason"], "no TXT record found")
	require.Empty(t, b.orgAudit(t, w.B.ID, "domain.verification_lost"))
	require.Empty(t, b.orgAudit(t, flaky.ID, "domain.verification_lost"))
	require.False(t, b.mod.VerifiedOriginAllowed(t.Context(), "https://"+lostD))
	require.True(t, b.mod.VerifiedOriginAllowed(t.Context(), "https://"+keptD))

	// Publishing the token again lets the owner verify it again.
	b.dns.setTXT("_sso-verification."+lostD, lostToken)
	require.True(t, b.verify(t, w.A).Verified)
}

func TestRecheckDomainsJobTable(t *testing.T) {
	t.Parallel()
	b := setupSettings(t, true)
	args := tenancy.RecheckDomainsArgs{}
	require.Equal(t, "tenancy.recheck_domains", args.Kind())
	require.Equal(t, jobs.QueueDefault, args.InsertOpts().Queue)
	var row *jobs.PeriodicJob
	for _, j := range b.mod.PeriodicJobs() {
		if j.ID == args.Kind() {
			row = &j
		}
	}
	require.NotNil(t, row)
	require.True(t, row.RunOnStart)
	start := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	require.Equal(t, start.Add(time.Hour), row.Schedule.Next(start))
	built, opts := row.Construct()
	require.Equal(t, args, built)
	require.Nil(t, opts)

	workers := river.NewWorkers()
	b.mod.RegisterWorkers(workers)
	client, err := river.NewClient(riverpgxv5.New(b.pool), &river.Config{Workers: workers})
	require.NoError(t, err)
	tx, err := b.pool.Begin(t.Context())
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(t.Context()) }()
	_, err = client.InsertTx(t.Context(), tx, args, nil)
	require.NoError(t, err, "the periodic job's kind has a registered worker")
}

// TestVerifiedOriginAllowed checks the dynamic CORS hook: https origins of
// verified domains of active organizations, cached for 30 seconds. It owns
// its bundle: it moves the clock.
func TestVerifiedOriginAllowed(t *testing.T) {
	t.Parallel()
	b := setupSettings(t, true)
	w := b.world(t)
	d, _ := b.verifiedDomain(t, w.A)
	pending := newDomain("pending")
	b.setTier(t, w.B, "tier_pro")
	b.setDomain(t, w.B, pending)
	ctx := t.Context()

	for _, tc := range []struct {
		Origin string
		Want   bool
	}{
		{"https://" + d, true},
		{"https://" + strings.ToUpper(d), true},
		{"http://" + d, false},
		{"https://" + d + ":8443", false},
		{"https://" + d + "/", false},
		{"https://user@" + d, false},
		{"https://sub." + d, false},
		{"https://" + pending, false},
		{"", false},
		{"null", false},
	} {
		require.Equal(t, tc.Want, b.mod.VerifiedOriginAllowed(ctx, tc.Origin), tc.Origin)
	}

	t.Run("ThroughTheRouter", func(t *testing.T) {
		mux, api := httpapi.New(httpapi.Options{ExtraOriginAllowedFunc: b.mod.VerifiedOriginAllowed})
		b.mod.RegisterRoutes(api)
		for origin, allowed := range map[string]bool{"https://" + d: true, "https://" + pending: false} {
			req := httptest.NewRequestWithContext(ctx, http.MethodOptions, "/api/organizations", nil)
			req.Header.Set("Origin", origin)
			req.Header.Set("Access-Control-Request-Method", http.MethodGet)
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			if allowed {
				require.Equal(t, origin, rec.Header().Get("Access-Control-Allow-Origin"))
			} else {
				require.Empty(t, rec.Header().Get("Access-Control-Allow-Origin"))
			}
		}
	})

	t.Run("CachedForThirtySeconds", func(t *testing.T) {
		// Another replica suspends the organization: this one notices
		// within the cache's lifetime, without a query per request.
		b.setStatus(t, w.A, tenancy.StatusSuspended)
		require.True(t, b.mod.VerifiedOriginAllowed(ctx, "https://"+d), "still cached")
		b.advance(29 * time.Second)
		require.True(t, b.mod.VerifiedOriginAllowed(ctx, "https://"+d), "still cached")
		b.advance(2 * time.Second)
		require.False(t, b.mod.VerifiedOriginAllowed(ctx, "https://"+d), "suspended organizations' domains are not allowed")
		b.setStatus(t, w.A, tenancy.StatusActive)
		b.advance(31 * time.Second)
		require.True(t, b.mod.VerifiedOriginAllowed(ctx, "https://"+d))
	})
}
