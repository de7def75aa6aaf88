package tenancy

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/authos/authos/platform/mail"
	"github.com/authos/authos/platform/outbound"
)

// Custom domain verification (spec §4.4).
const (
	// domainTXTPrefix names the TXT record that carries the token.
	domainTXTPrefix = "_sso-verification."
	// domainFilePath is the HTTP file that carries the token.
	domainFilePath = "/.well-known/sso-verification.txt"
	// domainCheckTimeout bounds each of the two checks.
	domainCheckTimeout = 5 * time.Second
	// domainFileMaxBytes bounds how much of the HTTP file is read.
	domainFileMaxBytes = 4096
	// defaultDomainHTTPPort is the port of the HTTP file check.
	defaultDomainHTTPPort = 80
)

// Verification methods, as stored; events name them in uppercase.
const (
	methodDNS  = "dns"
	methodHTTP = "http"
)

// smtpDialTimeout bounds the TCP connection to an organization's SMTP
// server; the whole send has its own, longer bound.
const smtpDialTimeout = 10 * time.Second

// outboundNet is how the module reaches hosts that organizations name:
// their SMTP servers and custom domains. Every connection goes through the
// outbound policy (no loopback, private, link-local or metadata address
// unless the operator allows private ones) and every name is resolved with
// one resolver, the configured DNS server's or the system's.
type outboundNet struct {
	policy   outbound.Policy
	resolver *net.Resolver // nil: net.DefaultResolver
	http     *http.Client  // no redirects, domainCheckTimeout
	httpPort int
	rootCAs  *x509.CertPool // nil: system roots
}

// newOutboundNet builds the module's outbound access from its Config.
func newOutboundNet(cfg Config) (*outboundNet, error) {
	r, err := dnsResolver(cfg.DNSServer)
	if err != nil {
		return nil, err
	}
	port := cfg.DomainHTTPPort
	switch {
	case port == 0:
		port = defaultDomainHTTPPort
	case port < 1 || port > 65535:
		return nil, fmt.Errorf("tenancy: domain HTTP port %d is out of range", port)
	}
	return &outboundNet{
		policy: cfg.Outbound, resolver: r, httpPort: port, rootCAs: cfg.SMTPRootCAs,
		http: outbound.NewHTTPClientWithResolver(cfg.Outbound, domainCheckTimeout, r),
	}, nil
}

// dnsResolver returns a resolver that sends every query to server
// ("host:port"), or nil for the system resolver when server is empty.
func dnsResolver(server string) (*net.Resolver, error) {
	if server == "" {
		return nil, nil
	}
	host, port, err := net.SplitHostPort(server)
	if err != nil || host == "" || port == "" {
		return nil, fmt.Errorf("tenancy: DNS server %q must be host:port", server)
	}
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, server)
	}}, nil
}

func (n *outboundNet) lookup() *net.Resolver {
	if n.resolver == nil {
		return net.DefaultResolver
	}
	return n.resolver
}

// checkHost resolves host (an IP literal is taken as is) and returns a
// *TargetRefusedError when the policy refuses any of its addresses. The
// dialer enforces the policy anyway; this only gives the refusal a clear
// message before any connection is tried. A failed lookup is returned as
// is.
func (n *outboundNet) checkHost(ctx context.Context, host string) error {
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		ips, err = n.lookup().LookupNetIP(ctx, "ip", host)
		if err != nil {
			return fmt.Errorf("resolve %s: %w", host, err)
		}
	}
	for _, ip := range ips {
		if err := n.policy.CheckAddr(ip); err != nil {
			class := strings.TrimSuffix(err.Error(), ": "+outbound.ErrForbiddenAddress.Error())
			class = strings.TrimPrefix(class, ip.String()+" is ")
			return &TargetRefusedError{Host: host, Addr: ip.String(), Class: class}
		}
	}
	return nil
}

// smtpSender returns a sender for an organization's SMTP server, dialing
// through the outbound policy. Port 465 speaks TLS from the first byte;
// any other port upgrades with STARTTLS when offered, and requires it when
// credentials are sent.
func (n *outboundNet) smtpSender(c smtpConfig, timeout time.Duration) (*mail.SMTPSender, error) {
	mode := mail.TLSStartTLS
	if c.Port == 465 {
		mode = mail.TLSImplicit
	}
	return mail.NewSMTPSender(mail.SMTPConfig{
		Host: c.Host, Port: c.Port, Username: c.Username, Password: c.Password,
		FromEmail: c.FromEmail, FromName: c.FromName, TLS: mode, Timeout: timeout, RootCAs: n.rootCAs,
		DialContextFunc: n.policy.DialContext(&net.Dialer{Timeout: smtpDialTimeout, Resolver: n.resolver}),
	})
}

// domainCheck is the outcome of verifying a domain: the method that
// succeeded, or why each one failed.
type domainCheck struct {
	Method      string // methodDNS or methodHTTP; "" when both failed
	DNSProblem  string
	HTTPProblem string
}

// ok reports whether one method succeeded.
func (c domainCheck) ok() bool { return c.Method != "" }

// problem describes a failed check for the organization's administrators.
func (c domainCheck) problem() string {
	return "DNS TXT record: " + c.DNSProblem + ". HTTP file: " + c.HTTPProblem + "."
}

// verifyDomain tries the DNS TXT record, then the HTTP file (spec §4.4).
func (n *outboundNet) verifyDomain(ctx context.Context, domain, token string) domainCheck {
	var c domainCheck
	if c.DNSProblem = n.checkTXT(ctx, domain, token); c.DNSProblem == "" {
		c.Method = methodDNS
		return c
	}
	if c.HTTPProblem = n.checkHTTPFile(ctx, domain, token); c.HTTPProblem == "" {
		c.Method = methodHTTP
	}
	return c
}

// checkTXT looks for a TXT record _sso-verification.<domain> whose value
// is the token, and returns "" when there is one, else the problem.
func (n *outboundNet) checkTXT(ctx context.Context, domain, token string) string {
	ctx, cancel := context.WithTimeout(ctx, domainCheckTimeout)
	defer cancel()
	name := domainTXTPrefix + domain
	// The trailing dot makes the name absolute: no search domain applies.
	records, err := n.lookup().LookupTXT(ctx, name+".")
	if err != nil {
		var dnsErr *net.DNSError
		switch {
		case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
			return "no TXT record found at " + name
		case errors.As(err, &dnsErr) && dnsErr.IsTimeout, ctx.Err() != nil:
			return "the DNS lookup of " + name + " timed out"
		}
		return "the DNS lookup of " + name + " failed"
	}
	for _, r := range records {
		if strings.TrimSpace(r) == token {
			return ""
		}
	}
	if len(records) == 0 {
		return "no TXT record found at " + name
	}
	return "the TXT record at " + name + " does not match the verification token"
}

// checkHTTPFile fetches http://<domain>/.well-known/sso-verification.txt
// through the outbound policy, without following redirects and reading at
// most domainFileMaxBytes, and returns "" when it contains the token, else
// the problem.
func (n *outboundNet) checkHTTPFile(ctx context.Context, domain, token string) string {
	ctx, cancel := context.WithTimeout(ctx, domainCheckTimeout)
	defer cancel()
	var refused *TargetRefusedError
	if err := n.checkHost(ctx, domain); errors.As(err, &refused) {
		return "refused: " + refused.Error()
	} else if err != nil {
		return "the domain could not be resolved"
	}
	host := domain
	if n.httpPort != defaultDomainHTTPPort {
		host = net.JoinHostPort(domain, strconv.Itoa(n.httpPort))
	}
	target := (&url.URL{Scheme: "http", Host: host, Path: domainFilePath}).String()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return "invalid URL " + target
	}
	req.Header.Set("User-Agent", "AuthOS-Domain-Verification/1.0")
	resp, err := n.http.Do(req)
	if err != nil {
		var urlErr *url.Error
		switch {
		case errors.Is(err, outbound.ErrForbiddenAddress):
			return "refused: " + (&TargetRefusedError{Host: domain}).Error()
		case errors.As(err, &urlErr) && urlErr.Timeout():
			return "the request to " + target + " timed out"
		case errors.As(err, &urlErr):
			return "the request to " + target + " failed: " + urlErr.Err.Error()
		}
		return "the request to " + target + " failed"
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return fmt.Sprintf("%s answered with a redirect (HTTP %d), which is not followed", target, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return fmt.Sprintf("%s answered HTTP %d", target, resp.StatusCode)
	}
	body, err := outbound.ReadLimited(resp.Body, domainFileMaxBytes)
	if errors.Is(err, outbound.ErrBodyTooLarge) {
		return fmt.Sprintf("%s is larger than %d bytes", target, domainFileMaxBytes)
	} else if err != nil {
		return "reading " + target + " failed"
	}
	if !strings.Contains(string(body), token) {
		return target + " does not contain the verification token"
	}
	return ""
}
