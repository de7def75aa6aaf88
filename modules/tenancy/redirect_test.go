package tenancy_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/tenancy"
)

func TestValidateRedirectURI(t *testing.T) {
	t.Parallel()

	t.Run("Accepts", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			Name string
			In   string
			Want string
		}{
			{"HTTPS", "https://app.example.com/callback", "https://app.example.com/callback"},
			{"HTTPSNoPath", "https://app.example.com", "https://app.example.com"},
			{"HTTPSWithPortAndQuery", "https://app.example.com:8443/cb?tenant=a&x=1", "https://app.example.com:8443/cb?tenant=a&x=1"},
			{"LowercasesSchemeAndHostOnly", "HTTPS://App.Example.COM/CallBack?Next=/Home", "https://app.example.com/CallBack?Next=/Home"},
			{"HTTPLocalhost", "http://localhost:3000/callback", "http://localhost:3000/callback"},
			{"HTTPLocalhostAnyCase", "HTTP://LocalHost/cb", "http://localhost/cb"},
			{"HTTPIPv4Loopback", "http://127.0.0.1:8080/cb", "http://127.0.0.1:8080/cb"},
			{"HTTPIPv6Loopback", "http://[::1]:8080/cb", "http://[::1]:8080/cb"},
			{"HTTPSIPv6", "https://[2001:db8::1]/cb", "https://[2001:db8::1]/cb"},
			{"PercentEncodedPath", "https://app.example.com/a%20b/c", "https://app.example.com/a%20b/c"},
			{"DotsInsideSegments", "https://app.example.com/v1.2/..well-known/cb.", "https://app.example.com/v1.2/..well-known/cb."},
			{"Punycode", "https://xn--bcher-kva.example/cb", "https://xn--bcher-kva.example/cb"},
			{"EmptyQuery", "https://app.example.com/cb?", "https://app.example.com/cb?"},
		} {
			t.Run(tc.Name, func(t *testing.T) {
				t.Parallel()
				got, err := tenancy.ValidateRedirectURI(tc.In)
				require.NoError(t, err)
				require.Equal(t, tc.Want, got)
			})
		}
	})

	t.Run("Refuses", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			Name string
			In   string
		}{
			{"Empty", ""},
			{"Relative", "/callback"},
			{"SchemeRelative", "//app.example.com/cb"},
			{"NoHost", "https:///cb"},
			{"OneSlash", "https:/app.example.com/cb"},
			{"JavaScript", "javascript:alert(1)"},
			{"JavaScriptWithSlashes", "javascript://app.example.com/%0aalert(1)"},
			{"Data", "data:text/html,<script>alert(1)</script>"},
			{"CustomScheme", "com.example.app://callback"},
			{"FTP", "ftp://app.example.com/cb"},
			{"HTTPOnPublicHost", "http://app.example.com/cb"},
			{"HTTPOnLocalhostSuffix", "http://localhost.evil.com/cb"},
			{"HTTPOnLocalhostPrefix", "http://evil-localhost/cb"},
			{"HTTPOnLoopbackLookalike", "http://127.0.0.1.nip.io/cb"},
			{"HTTPOnOtherLoopbackAddress", "http://127.0.0.2/cb"},
			{"HTTPOnLocalhostTrailingDot", "http://localhost./cb"},
			{"Fragment", "https://app.example.com/cb#token"},
			{"EmptyFragment", "https://app.example.com/cb#"},
			{"UserInfo", "https://user@app.example.com/cb"},
			{"UserInfoHostTrick", "https://app.example.com@evil.com/cb"},
			{"UserInfoWithPassword", "https://app.example.com:pw@evil.com/cb"},
			{"BackslashHostTrick", "https://evil.com\\@app.example.com/cb"},
			{"BackslashInPath", "https://app.example.com\\cb"},
			{"WildcardHost", "https://*.example.com/cb"},
			{"WildcardPath", "https://app.example.com/*"},
			{"Space", "https://app.example.com/call back"},
			{"LeadingSpace", " https://app.example.com/cb"},
			{"Tab", "https://app.example.com/\tcb"},
			{"Newline", "https://app.example.com/cb\n"},
			{"NUL", "https://app.example.com/cb\x00"},
			{"DEL", "https://app.example.com/cb\x7f"},
			{"NonASCIIHost", "https://bücher.example/cb"},
			{"NonASCIIPath", "https://app.example.com/café"},
			{"DotDotSegment", "https://app.example.com/cb/../admin"},
			{"TrailingDotDot", "https://app.example.com/cb/.."},
			{"DotSegment", "https://app.example.com/./cb"},
			{"EncodedDotDot", "https://app.example.com/cb/%2e%2e/admin"},
			{"EncodedDotDotUpper", "https://app.example.com/cb/%2E%2E/admin"},
			{"HalfEncodedDotDot", "https://app.example.com/cb/.%2e/admin"},
			{"DotDotPathParameter", "https://app.example.com/cb/..;/admin"},
			{"EncodedSlash", "https://app.example.com/cb%2f..%2fadmin"},
			{"EncodedBackslash", "https://app.example.com/cb%5cadmin"},
			{"EncodedNUL", "https://app.example.com/cb%00"},
			{"EncodedNewlineInQuery", "https://app.example.com/cb?x=%0d%0aSet-Cookie:a"},
			{"MalformedEscape", "https://app.example.com/cb%zz"},
			{"TruncatedEscape", "https://app.example.com/cb%2"},
			{"TrailingDotHost", "https://app.example.com./cb"},
			{"EmptyLabel", "https://app..example.com/cb"},
			{"BadHostCharacter", "https://app_example.com/cb"},
			{"PercentInHost", "https://app%2eexample.com/cb"},
			{"LabelStartsWithHyphen", "https://-app.example.com/cb"},
			{"EmptyPort", "https://app.example.com:/cb"},
			{"PortZero", "https://app.example.com:0/cb"},
			{"PortTooLarge", "https://app.example.com:65536/cb"},
			{"PortLeadingZero", "https://app.example.com:0443/cb"},
			{"PortNotNumeric", "https://app.example.com:https/cb"},
			{"IPv6ZoneID", "http://[::1%25eth0]/cb"},
			{"UnclosedIPv6", "https://[::1/cb"},
			{"EmptyIPv6", "https://[]/cb"},
			{"TooLong", "https://app.example.com/" + strings.Repeat("a", tenancy.MaxRedirectURILength)},
		} {
			t.Run(tc.Name, func(t *testing.T) {
				t.Parallel()
				got, err := tenancy.ValidateRedirectURI(tc.In)
				require.Error(t, err, "accepted as %q", got)
				require.Empty(t, got)
			})
		}
	})

	t.Run("MaxLengthIsInclusive", func(t *testing.T) {
		t.Parallel()
		base := "https://app.example.com/"
		uri := base + strings.Repeat("a", tenancy.MaxRedirectURILength-len(base))
		_, err := tenancy.ValidateRedirectURI(uri)
		require.NoError(t, err)
	})
}

func TestMatchRedirectURI(t *testing.T) {
	t.Parallel()
	registered := []string{
		"https://app.example.com/callback",
		"https://app.example.com/oauth?client=web",
		"http://localhost:3000/cb",
	}
	for _, tc := range []struct {
		Name      string
		Candidate string
		Want      bool
	}{
		{"Exact", "https://app.example.com/callback", true},
		{"ExactWithQuery", "https://app.example.com/oauth?client=web", true},
		{"ExactLoopback", "http://localhost:3000/cb", true},
		{"SchemeAndHostCaseInsensitive", "HTTPS://APP.Example.com/callback", true},
		{"PathCaseSensitive", "https://app.example.com/Callback", false},
		{"TrailingSlash", "https://app.example.com/callback/", false},
		{"PathPrefix", "https://app.example.com/callback/evil", false},
		{"PathShorter", "https://app.example.com/call", false},
		{"DotDot", "https://app.example.com/callback/../evil", false},
		{"EncodedTraversal", "https://app.example.com/callback/%2e%2e/evil", false},
		{"EncodedPathCharacter", "https://app.example.com/c%61llback", false},
		{"ExtraQuery", "https://app.example.com/callback?next=https://evil.com", false},
		{"ExtraQueryParameter", "https://app.example.com/oauth?client=web&x=1", false},
		{"QueryReordered", "https://app.example.com/oauth?x=1&client=web", false},
		{"QueryMissing", "https://app.example.com/oauth", false},
		{"Fragment", "https://app.example.com/callback#", false},
		{"FragmentWithValue", "https://app.example.com/callback#x", false},
		{"HostSuffixTrick", "https://app.example.com.evil.com/callback", false},
		{"HostPrefixTrick", "https://evilapp.example.com/callback", false},
		{"SubdomainTrick", "https://evil.app.example.com/callback", false},
		{"ParentDomain", "https://example.com/callback", false},
		{"UserInfoTrick", "https://app.example.com@evil.com/callback", false},
		{"UserInfoSameHost", "https://evil@app.example.com/callback", false},
		{"BackslashTrick", "https://evil.com\\app.example.com/callback", false},
		{"SchemeDowngrade", "http://app.example.com/callback", false},
		{"ExplicitDefaultPort", "https://app.example.com:443/callback", false},
		{"OtherPort", "https://app.example.com:8443/callback", false},
		{"LoopbackOtherPort", "http://localhost:3001/cb", false},
		{"LoopbackOtherAddress", "http://127.0.0.1:3000/cb", false},
		{"TrailingDotHost", "https://app.example.com./callback", false},
		{"JavaScript", "javascript:alert(document.domain)//https://app.example.com/callback", false},
		{"Whitespace", " https://app.example.com/callback", false},
		{"Empty", "", false},
	} {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.Want, tenancy.MatchRedirectURI(registered, tc.Candidate))
		})
	}

	t.Run("InvalidRegisteredEntriesMatchNothing", func(t *testing.T) {
		t.Parallel()
		require.False(t, tenancy.MatchRedirectURI([]string{"https://*.example.com/cb"}, "https://*.example.com/cb"))
		require.False(t, tenancy.MatchRedirectURI(nil, "https://app.example.com/callback"))
	})
}

func FuzzValidateRedirectURI(f *testing.F) {
	for _, seed := range []string{
		"https://app.example.com/callback", "http://localhost:3000/cb", "http://[::1]/x?y=z", "HTTPS://A.B/%2e%2e",
		"https://a@b/c", "javascript:alert(1)", "https://app.example.com:443/cb?x#y",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := tenancy.ValidateRedirectURI(raw)
		if err != nil {
			return
		}
		// Normalisation is idempotent, and the result matches itself.
		again, err := tenancy.ValidateRedirectURI(got)
		require.NoError(t, err)
		require.Equal(t, got, again)
		require.True(t, tenancy.MatchRedirectURI([]string{raw}, got))
		require.NotContains(t, got, "#")
		u, err := url.Parse(got)
		require.NoError(t, err)
		require.Nil(t, u.User)
		require.NotEmpty(t, u.Host)
		require.Contains(t, []string{"https", "http"}, u.Scheme)
		if u.Scheme == "http" {
			require.Contains(t, []string{"localhost", "127.0.0.1", "::1"}, u.Hostname())
		}
	})
}
