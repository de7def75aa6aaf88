package oauth

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode"

	"golang.org/x/oauth2"
)

// Token is what the provider's token endpoint returned. The identity module
// stores AccessToken and RefreshToken encrypted. Token's String, GoString
// and LogValue redact both tokens and the ID token, so printing or logging
// a Token by mistake leaks nothing.
type Token struct {
	AccessToken string
	// RefreshToken is empty when the provider issued none (GitHub, Google
	// without a fresh consent, Microsoft without offline_access).
	RefreshToken string
	// Expiry is when AccessToken expires; zero when the provider did not
	// say (GitHub tokens do not expire).
	Expiry time.Time
	// Scopes are the granted scopes; see [Client.Exchange] and
	// [Client.Refresh] for what an absent scope field means.
	Scopes []string
	// IDToken is the OpenID Connect ID token of Google and Microsoft when
	// openid was requested. It is passed through unverified: the profile
	// comes from the userinfo endpoint, so nothing here relies on it.
	IDToken string
}

// String describes the token with its secrets redacted.
func (t Token) String() string {
	return fmt.Sprintf("oauth.Token{AccessToken:%s RefreshToken:%s IDToken:%s Expiry:%s Scopes:%v}",
		redacted(t.AccessToken), redacted(t.RefreshToken), redacted(t.IDToken),
		t.Expiry.Format(time.RFC3339), t.Scopes)
}

// GoString is String, so %#v redacts too.
func (t Token) GoString() string { return t.String() }

// LogValue implements slog.LogValuer with the secrets redacted.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("access_token", redacted(t.AccessToken)),
		slog.String("refresh_token", redacted(t.RefreshToken)),
		slog.Time("expiry", t.Expiry),
		slog.Any("scopes", t.Scopes),
	)
}

func redacted(s string) string {
	if s == "" {
		return "<empty>"
	}
	return "<redacted>"
}

// toToken converts x/oauth2's token. fallbackScopes are used when the
// response has no scope field. For Microsoft, offline_access is dropped from
// the scopes when no refresh token came back (spec §2.2: it is kept only
// when a refresh token is returned).
func (c *Client) toToken(t *oauth2.Token, fallbackScopes []string) Token {
	out := Token{
		AccessToken:  t.AccessToken,
		RefreshToken: t.RefreshToken,
		Expiry:       t.Expiry,
		IDToken:      extraString(t, "id_token"),
	}
	if s := extraString(t, "scope"); s != "" {
		out.Scopes = parseScopes(s)
	} else {
		out.Scopes = slices.Clone(fallbackScopes)
	}
	if c.name == Microsoft && out.RefreshToken == "" {
		out.Scopes = slices.DeleteFunc(out.Scopes, func(s string) bool { return s == scopeOfflineAccess })
	}
	return out
}

// extraString returns a field of the token response as a string. x/oauth2
// turns numeric-looking form values into numbers; they are printed back.
func extraString(t *oauth2.Token, key string) string {
	switch v := t.Extra(key).(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		return fmt.Sprint(v)
	}
}

// parseScopes splits a scope field. RFC 6749 separates scopes with spaces;
// GitHub separates them with commas. Duplicates are dropped, order kept.
func parseScopes(s string) []string {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	out := make([]string, 0, len(fields))
	for _, f := range fields {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}
