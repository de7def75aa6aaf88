package oauth

import (
	"net/http"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

func TestParseUserInfo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		provider Name
		body     string
		want     Profile
		wantErr  bool
	}{
		{"GoogleBoolTrue", Google, `{"sub":"1","email":"a@x.test","email_verified":true,"name":"A"}`, Profile{"1", "a@x.test", true, "A"}, false},
		{"GoogleStringTrue", Google, `{"sub":"1","email":"a@x.test","email_verified":"true"}`, Profile{"1", "a@x.test", true, ""}, false},
		{"GoogleFalse", Google, `{"sub":"1","email":"a@x.test","email_verified":false}`, Profile{"1", "a@x.test", false, ""}, false},
		{"GoogleStringFalse", Google, `{"sub":"1","email":"a@x.test","email_verified":"false"}`, Profile{"1", "a@x.test", false, ""}, false},
		{"GoogleOne", Google, `{"sub":"1","email":"a@x.test","email_verified":1}`, Profile{"1", "a@x.test", false, ""}, false},
		{"GoogleTrueUppercase", Google, `{"sub":"1","email":"a@x.test","email_verified":"TRUE"}`, Profile{"1", "a@x.test", false, ""}, false},
		{"GoogleNull", Google, `{"sub":"1","email":"a@x.test","email_verified":null}`, Profile{"1", "a@x.test", false, ""}, false},
		{"GoogleMissing", Google, `{"sub":"1","email":"a@x.test"}`, Profile{"1", "a@x.test", false, ""}, false},
		{"GoogleIgnoresEdov", Google, `{"sub":"1","email":"a@x.test","xms_edov":true}`, Profile{"1", "a@x.test", false, ""}, false},
		{"VerifiedWithoutEmail", Google, `{"sub":"1","email_verified":true}`, Profile{"1", "", false, ""}, false},
		{"MicrosoftPlain", Microsoft, `{"sub":"m","email":"a@x.test","name":"M"}`, Profile{"m", "a@x.test", false, "M"}, false},
		{"MicrosoftEdov", Microsoft, `{"sub":"m","email":"a@x.test","xms_edov":true}`, Profile{"m", "a@x.test", true, ""}, false},
		{"MicrosoftEdovString", Microsoft, `{"sub":"m","email":"a@x.test","xms_edov":"true"}`, Profile{"m", "a@x.test", true, ""}, false},
		{"MicrosoftEmailVerified", Microsoft, `{"sub":"m","email":"a@x.test","email_verified":true}`, Profile{"m", "a@x.test", true, ""}, false},
		{"MicrosoftEdovFalse", Microsoft, `{"sub":"m","email":"a@x.test","xms_edov":false}`, Profile{"m", "a@x.test", false, ""}, false},
		{"NoSub", Google, `{"email":"a@x.test"}`, Profile{}, true},
		{"EmptySub", Google, `{"sub":""}`, Profile{}, true},
		{"SubTooLong", Google, `{"sub":"` + strings.Repeat("s", 256) + `"}`, Profile{}, true},
		{"EmailTooLong", Google, `{"sub":"1","email":"` + strings.Repeat("e", 321) + `"}`, Profile{}, true},
		{"Array", Google, `[]`, Profile{}, true},
		{"Null", Google, `null`, Profile{}, true},
		{"Empty", Google, ``, Profile{}, true},
	} {
		got, err := parseUserInfo(tc.provider, []byte(tc.body))
		if tc.wantErr {
			require.ErrorIs(t, err, ErrInvalidProfile, tc.name)
			continue
		}
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.want, got, tc.name)
	}
}

func TestParseGitHub(t *testing.T) {
	t.Parallel()

	t.Run("User", func(t *testing.T) {
		t.Parallel()
		u, err := parseGitHubUser([]byte(`{"id":583231,"login":"octocat","name":null,"email":"o@x.test"}`))
		require.NoError(t, err)
		require.Equal(t, gitHubUser{id: "583231", name: "octocat", email: "o@x.test"}, u)
		u, err = parseGitHubUser([]byte(`{"id":18446744073709551615,"login":"max","name":"Max"}`))
		require.NoError(t, err)
		require.Equal(t, gitHubUser{id: "18446744073709551615", name: "Max"}, u)
		for _, body := range []string{
			`{"id":"583231"}`, `{"id":0}`, `{"id":-1}`, `{"id":1.5}`, `{"id":1e3}`, `{"id":01}`,
			`{"id":18446744073709551616}`, `{"login":"noid"}`, `{"id":null}`, `{"id":1,"email":5}`, `[]`,
		} {
			_, err := parseGitHubUser([]byte(body))
			require.ErrorIs(t, err, ErrInvalidProfile, body)
		}
	})

	t.Run("EmailsFailClosedOnWrongTypes", func(t *testing.T) {
		t.Parallel()
		for _, body := range []string{
			`[{"email":"a@x.test","primary":true,"verified":"true"}]`,
			`[{"email":"a@x.test","primary":"true","verified":true}]`,
			`{"email":"a@x.test"}`,
		} {
			_, err := parseGitHubEmails([]byte(body))
			require.ErrorIs(t, err, ErrInvalidProfile, body)
		}
		emails, err := parseGitHubEmails([]byte(`null`))
		require.NoError(t, err)
		require.Empty(t, emails)
	})

	t.Run("ChooseEmail", func(t *testing.T) {
		t.Parallel()
		pv := gitHubEmail{Email: "pv@x.test", Primary: true, Verified: true}
		pu := gitHubEmail{Email: "pu@x.test", Primary: true}
		sv := gitHubEmail{Email: "sv@x.test", Verified: true}
		su := gitHubEmail{Email: "su@x.test"}
		for _, tc := range []struct {
			name     string
			public   string
			emails   []gitHubEmail
			want     string
			verified bool
		}{
			{"PrimaryVerified", "pub@x.test", []gitHubEmail{su, sv, pv}, "pv@x.test", true},
			{"PrimaryUnverified", "pub@x.test", []gitHubEmail{sv, pu}, "pu@x.test", false},
			{"OnlySecondaryVerified", "", []gitHubEmail{sv}, "sv@x.test", false},
			{"PublicBeforeSecondary", "pub@x.test", []gitHubEmail{sv}, "pub@x.test", false},
			{"EmptyPrimaryVerifiedIgnored", "", []gitHubEmail{{Primary: true, Verified: true}, su}, "su@x.test", false},
			{"Nothing", "", nil, "", false},
		} {
			got, verified := chooseGitHubEmail(tc.public, tc.emails)
			require.Equal(t, tc.want, got, tc.name)
			require.Equal(t, tc.verified, verified, tc.name)
		}
	})
}

func TestProviderErrorFromResponse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body, code, desc string
	}{
		{"RFC6749", `{"error":"invalid_grant","error_description":"Bad Request"}`, "invalid_grant", "Bad Request"},
		{"Graph", `{"error":{"code":"InvalidAuthenticationToken","message":"Access token is empty."}}`, "InvalidAuthenticationToken", "Access token is empty."},
		{"GitHub", `{"message":"Bad credentials","documentation_url":"https://docs.github.com"}`, "", "Bad credentials"},
		{"NotJSON", `<html>502</html>`, "", ""},
		{"ErrorNumber", `{"error":42}`, "", ""},
		{"ControlChars", "{\"error\":\"bad\\u0000code\\n\",\"error_description\":\"line1\\r\\nline2\"}", "badcode", "line1line2"},
	} {
		pe := providerErrorFromResponse(Google, EndpointUser, http.StatusUnauthorized, []byte(tc.body))
		require.Equal(t, &ProviderError{Provider: Google, Endpoint: EndpointUser, StatusCode: http.StatusUnauthorized, Code: tc.code, Description: tc.desc}, pe, tc.name)
	}
	require.Equal(t, `google user endpoint: status 401: invalid_grant: "Bad Request"`,
		providerErrorFromResponse(Google, EndpointUser, 401, []byte(`{"error":"invalid_grant","error_description":"Bad Request"}`)).Error())
}

func TestToToken(t *testing.T) {
	t.Parallel()
	ms := &Client{name: Microsoft}
	requested := requestScopes(Microsoft, DefaultScopes(Microsoft))

	t.Run("MicrosoftDropsOfflineAccessWithoutRefreshToken", func(t *testing.T) {
		t.Parallel()
		got := ms.toToken(&oauth2.Token{AccessToken: "a"}, requested)
		require.Equal(t, []string{"User.Read", "email", "openid", "profile"}, got.Scopes)
		got = ms.toToken((&oauth2.Token{AccessToken: "a"}).WithExtra(map[string]any{"scope": "openid offline_access"}), requested)
		require.Equal(t, []string{"openid"}, got.Scopes)
	})

	t.Run("MicrosoftKeepsOfflineAccessWithRefreshToken", func(t *testing.T) {
		t.Parallel()
		got := ms.toToken(&oauth2.Token{AccessToken: "a", RefreshToken: "r"}, requested)
		require.Equal(t, requested, got.Scopes)
	})

	t.Run("ScopesAndIDTokenFromResponse", func(t *testing.T) {
		t.Parallel()
		gh := &Client{name: GitHub}
		got := gh.toToken((&oauth2.Token{AccessToken: "a"}).WithExtra(map[string]any{"scope": "repo,user:email, repo", "id_token": "x.y.z"}), []string{"user:email"})
		require.Equal(t, []string{"repo", "user:email"}, got.Scopes)
		require.Equal(t, "x.y.z", got.IDToken)
		got = gh.toToken(&oauth2.Token{AccessToken: "a"}, nil)
		require.Nil(t, got.Scopes)
	})
}

// FuzzParseUserInfo: parsing never panics, and a success always has a
// bounded non-empty sub and never claims a verified empty email; a verified
// email needs a literal true in the body.
func FuzzParseUserInfo(f *testing.F) {
	for _, seed := range []string{
		`{"sub":"1","email":"a@x.test","email_verified":true,"name":"A"}`,
		`{"sub":"1","email":"a@x.test","email_verified":"true"}`,
		`{"sub":"m","email":"a@x.test","xms_edov":true}`,
		`{"sub":"m","email_verified":true}`,
		`{"sub":1}`, `null`, `[]`, `{"SUB":"x","Email_Verified":true,"email":"a"}`,
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, microsoft bool) {
		n := Google
		if microsoft {
			n = Microsoft
		}
		p, err := parseUserInfo(n, body)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidProfile)
			require.Zero(t, p)
			return
		}
		require.NotEmpty(t, p.ProviderUserID)
		require.LessOrEqual(t, len(p.ProviderUserID), maxUserIDLen)
		require.LessOrEqual(t, len(p.Email), maxEmailLen)
		if p.EmailVerified {
			require.NotEmpty(t, p.Email)
			require.Contains(t, string(body), "true")
		}
	})
}

// FuzzParseGitHub: /user and /user/emails parsing never panics, ids are
// canonical positive integers, and a verified email is always the address
// of a primary, verified entry.
func FuzzParseGitHub(f *testing.F) {
	f.Add([]byte(`{"id":1,"login":"a","name":"A","email":"a@x.test"}`),
		[]byte(`[{"email":"a@x.test","primary":true,"verified":true},{"email":"b@x.test","primary":false,"verified":true}]`))
	f.Add([]byte(`{"id":"1"}`), []byte(`[{"email":"a@x.test","primary":true,"verified":"true"}]`))
	f.Add([]byte(`{"id":18446744073709551615,"name":null}`), []byte(`null`))
	f.Fuzz(func(t *testing.T, userBody, emailsBody []byte) {
		u, err := parseGitHubUser(userBody)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidProfile)
			return
		}
		require.NotEmpty(t, u.id)
		for _, r := range u.id {
			require.True(t, r >= '0' && r <= '9', u.id)
		}
		require.NotEqual(t, byte('0'), u.id[0])
		emails, err := parseGitHubEmails(emailsBody)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidProfile)
			return
		}
		email, verified := chooseGitHubEmail(u.email, emails)
		if verified {
			found := false
			for _, e := range emails {
				found = found || e.Primary && e.Verified && e.Email == email
			}
			require.True(t, found)
			require.NotEmpty(t, email)
		}
	})
}

// FuzzProviderError: error bodies of any shape give a bounded, printable
// code and description.
func FuzzProviderError(f *testing.F) {
	f.Add([]byte(`{"error":"invalid_grant","error_description":"Bad Request"}`))
	f.Add([]byte(`{"error":{"code":"InvalidAuthenticationToken","message":"x"}}`))
	f.Add([]byte(`{"message":"Bad credentials"}`))
	f.Add([]byte("{\"error\":\"a\\u0000\\u202e\",\"message\":\"\\ud800\"}"))
	f.Fuzz(func(t *testing.T, body []byte) {
		pe := providerErrorFromResponse(GitHub, EndpointUser, http.StatusBadRequest, body)
		require.NotNil(t, pe)
		for _, s := range []string{pe.Code, pe.Description} {
			require.LessOrEqual(t, len(s), maxErrorText)
			require.True(t, utf8.ValidString(s))
			for _, r := range s {
				require.True(t, unicode.IsPrint(r), "%q", s)
			}
		}
		require.NotEmpty(t, pe.Error())
	})
}
