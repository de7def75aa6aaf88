package tenancy

import (
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Redirect URI limits (spec §5; our decisions where AuthOS is silent).
const (
	// MaxRedirectURIs caps how many redirect URIs a service registers.
	MaxRedirectURIs = 20
	// MaxRedirectURILength caps one redirect URI, in bytes.
	MaxRedirectURILength = 2048
)

// loopbackHosts are the hosts on which plain http is allowed (RFC 8252
// §7.3 native-app redirects). The list is exact: "localhost.example.com"
// or "127.0.0.1.nip.io" are ordinary hosts.
func loopbackHosts() []string { return []string{"localhost", "127.0.0.1", "[::1]"} }

// ValidateRedirectURI checks a redirect URI (or a device activation URI)
// and returns its normalised form: the scheme and host lowercased, the rest
// byte for byte as given. It accepts absolute https URIs, and http only on
// the loopback hosts localhost, 127.0.0.1 and [::1]. It refuses, with an
// error whose message is fit for an API answer:
//   - more than MaxRedirectURILength bytes, whitespace, control or non-ASCII
//     characters (percent-encode paths, punycode hosts), backslashes;
//   - wildcards (*), fragments (#), user info (user@host);
//   - relative and opaque URIs (javascript:, data:, mailto:, custom schemes);
//   - hosts with empty labels, a trailing dot or characters outside
//     [a-z0-9.-] (IPv6 literals in brackets aside), bad ports;
//   - dot segments (/./, /../), also percent-encoded, and encoded slashes,
//     backslashes or control characters in the path;
//   - malformed percent-encoding.
func ValidateRedirectURI(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("must not be empty")
	}
	if len(raw) > MaxRedirectURILength {
		return "", errors.New("must be at most " + strconv.Itoa(MaxRedirectURILength) + " characters")
	}
	for i := range len(raw) {
		c := raw[i]
		switch {
		case c <= ' ' || c == 0x7f:
			return "", errors.New("must not contain whitespace or control characters")
		case c >= 0x80:
			return "", errors.New("must be ASCII: percent-encode the path and use punycode hosts")
		case c == '\\':
			return "", errors.New("must not contain backslashes")
		case c == '*':
			return "", errors.New("must not contain wildcards")
		case c == '#':
			return "", errors.New("must not contain a fragment")
		}
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok || scheme == "" {
		return "", errors.New("must be an absolute URI (scheme://host/path)")
	}
	scheme = strings.ToLower(scheme)
	if scheme != "https" && scheme != "http" {
		return "", errors.New("must use https (http is allowed only on localhost, 127.0.0.1 and [::1])")
	}
	// The authority ends at the first '/' or '?'; '#' and '\' are refused
	// above, so every URL parser agrees on where it ends.
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := strings.ToLower(rest[:end]), rest[end:]
	if strings.Contains(authority, "@") {
		return "", errors.New("must not contain user info")
	}
	host, err := checkAuthority(authority)
	if err != nil {
		return "", err
	}
	if scheme == "http" && !isLoopback(host) {
		return "", errors.New("must use https (http is allowed only on localhost, 127.0.0.1 and [::1])")
	}
	path, query, _ := strings.Cut(tail, "?")
	if err := checkPath(path); err != nil {
		return "", err
	}
	if err := checkEscapes(query); err != nil {
		return "", err
	}
	normalized := scheme + "://" + authority + tail
	// Cross-check with net/url: the host it sees is the one checked here.
	u, err := url.Parse(normalized)
	if err != nil || u.Scheme != scheme || u.Host != authority || u.User != nil || u.Opaque != "" {
		return "", errors.New("is not a valid URI")
	}
	return normalized, nil
}

// MatchRedirectURI reports whether candidate is exactly one of registered:
// byte-equal once both are normalised by ValidateRedirectURI, which only
// lowercases the scheme and host. Paths, queries, ports and trailing
// slashes must match exactly; an invalid candidate matches nothing.
func MatchRedirectURI(registered []string, candidate string) bool {
	want, err := ValidateRedirectURI(candidate)
	if err != nil {
		return false
	}
	for _, r := range registered {
		if got, err := ValidateRedirectURI(r); err == nil && got == want {
			return true
		}
	}
	return false
}

// checkAuthority validates a lowercased host[:port] and returns the host
// (IPv6 literals keep their brackets).
func checkAuthority(authority string) (string, error) {
	if authority == "" {
		return "", errors.New("must name a host")
	}
	host, port := authority, ""
	if strings.HasPrefix(authority, "[") {
		i := strings.Index(authority, "]")
		if i < 0 {
			return "", errors.New("has an invalid IPv6 host")
		}
		host, port = authority[:i+1], authority[i+1:]
		if port != "" && !strings.HasPrefix(port, ":") {
			return "", errors.New("has an invalid host")
		}
		port = strings.TrimPrefix(port, ":")
		for _, c := range host[1:i] {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c == ':' || c == '.') {
				return "", errors.New("has an invalid IPv6 host")
			}
		}
		if i == 1 {
			return "", errors.New("has an invalid IPv6 host")
		}
	} else if h, p, ok := strings.Cut(authority, ":"); ok {
		host, port = h, p
		if port == "" {
			return "", errors.New("has an empty port")
		}
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || port[0] == '0' || strings.ContainsAny(port, "+-") {
			return "", errors.New("has an invalid port")
		}
	}
	if strings.HasPrefix(host, "[") {
		return host, nil
	}
	if host == "" {
		return "", errors.New("must name a host")
	}
	if len(host) > 253 {
		return "", errors.New("has a host name that is too long")
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" {
			return "", errors.New("has an invalid host (empty label or trailing dot)")
		}
		if len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return "", errors.New("has an invalid host label")
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "", errors.New("has an invalid host (letters, digits, '-' and '.' only)")
			}
		}
	}
	return host, nil
}

func isLoopback(host string) bool { return slices.Contains(loopbackHosts(), host) }

// checkPath refuses dot segments, also when percent-encoded, and segments
// that decode to a slash, a backslash or a control character: a server
// behind the redirect might resolve them, so a registered URI could then
// stand for another path.
func checkPath(path string) error {
	if err := checkEscapes(path); err != nil {
		return err
	}
	for _, seg := range strings.Split(path, "/") {
		dec, err := url.PathUnescape(seg)
		if err != nil {
			return errors.New("has malformed percent-encoding")
		}
		// "..;x" is a dot segment to servlet containers (path parameters).
		if base, _, _ := strings.Cut(dec, ";"); base == "." || base == ".." {
			return errors.New("must not contain dot segments (. or ..)")
		}
		if dec != seg && strings.ContainsAny(dec, "/\\") {
			return errors.New("must not contain encoded slashes or backslashes in the path")
		}
	}
	return nil
}

// checkEscapes refuses malformed percent-encoding and encoded control
// characters (%00 to %1F, %7F).
func checkEscapes(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return errors.New("has malformed percent-encoding")
		}
		v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if v < 0x20 || v == 0x7f {
			return errors.New("must not contain encoded control characters")
		}
		i += 2
	}
	return nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
