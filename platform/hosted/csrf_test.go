package hosted_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authos/authos/platform/hosted"
)

var testKey = bytes.Repeat([]byte{0x42}, 32)

func newCSRF(t *testing.T, key []byte, secure bool) *hosted.CSRF {
	t.Helper()
	c, err := hosted.NewCSRF(key, secure)
	require.NoError(t, err)
	return c
}

// issue runs Token for a GET carrying cookies and returns the token and
// the cookie it set.
func issue(t *testing.T, c *hosted.CSRF, cookies ...*http.Cookie) (string, *http.Cookie) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/authorize", nil)
	for _, ck := range cookies {
		req.AddCookie(ck)
	}
	rec := httptest.NewRecorder()
	tok := c.Token(rec, req)
	set := rec.Result().Cookies()
	require.Len(t, set, 1)
	return tok, set[0]
}

func post(form url.Values, cookies ...*http.Cookie) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/authorize", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, ck := range cookies {
		req.AddCookie(ck)
	}
	return req
}

func TestNewCSRF(t *testing.T) {
	t.Parallel()

	_, err := hosted.NewCSRF(make([]byte, 31), true)
	require.ErrorContains(t, err, "at least 32 bytes")
	_, err = hosted.NewCSRF(nil, true)
	require.Error(t, err)
}

func TestCSRF(t *testing.T) {
	t.Parallel()

	t.Run("SetsHardenedCookie", func(t *testing.T) {
		t.Parallel()
		tok, ck := issue(t, newCSRF(t, testKey, true))
		require.NotEmpty(t, tok)
		require.Equal(t, "__Host-authos_csrf", ck.Name)
		require.True(t, ck.Secure)
		require.True(t, ck.HttpOnly)
		require.Equal(t, http.SameSiteLaxMode, ck.SameSite)
		require.Equal(t, "/", ck.Path)
		require.Empty(t, ck.Domain)
		require.NotEqual(t, tok, ck.Value, "the form token is not the cookie value")

		_, ck = issue(t, newCSRF(t, testKey, false))
		require.Equal(t, "authos_csrf", ck.Name)
		require.False(t, ck.Secure)
		require.True(t, ck.HttpOnly)
	})

	t.Run("NewBrowsersGetDistinctCookies", func(t *testing.T) {
		t.Parallel()
		c := newCSRF(t, testKey, true)
		tok1, ck1 := issue(t, c)
		tok2, ck2 := issue(t, c)
		require.NotEqual(t, ck1.Value, ck2.Value)
		require.NotEqual(t, tok1, tok2)
	})

	t.Run("KeepsAnExistingCookie", func(t *testing.T) {
		t.Parallel()
		c := newCSRF(t, testKey, true)
		tok1, ck1 := issue(t, c)
		tok2, ck2 := issue(t, c, ck1)
		require.Equal(t, ck1.Value, ck2.Value, "refreshed, not replaced")
		require.Equal(t, tok1, tok2)
	})

	t.Run("ReplacesAMalformedCookie", func(t *testing.T) {
		t.Parallel()
		c := newCSRF(t, testKey, true)
		_, ck := issue(t, c, &http.Cookie{Name: c.CookieName(), Value: "short"})
		require.NotEqual(t, "short", ck.Value)
	})

	t.Run("Valid", func(t *testing.T) {
		t.Parallel()
		c := newCSRF(t, testKey, true)
		tok, ck := issue(t, c)
		require.True(t, c.Valid(post(url.Values{hosted.CSRFField: {tok}, "email": {"a@b.test"}}, ck)))
	})

	t.Run("ValidMultipart", func(t *testing.T) {
		t.Parallel()
		c := newCSRF(t, testKey, true)
		tok, ck := issue(t, c)
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		require.NoError(t, mw.WriteField(hosted.CSRFField, tok))
		require.NoError(t, mw.Close())
		req := httptest.NewRequest(http.MethodPost, "/authorize", &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.AddCookie(ck)
		require.True(t, c.Valid(req))
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		c := newCSRF(t, testKey, true)
		tok, ck := issue(t, c)
		for name, form := range map[string]url.Values{
			"WrongToken":     {hosted.CSRFField: {flipFirst(tok)}},
			"NotBase64":      {hosted.CSRFField: {"!!!"}},
			"TruncatedToken": {hosted.CSRFField: {tok[:10]}},
			"CookieAsToken":  {hosted.CSRFField: {ck.Value}},
		} {
			require.False(t, c.Valid(post(form, ck)), name)
		}
	})

	t.Run("Missing", func(t *testing.T) {
		t.Parallel()
		c := newCSRF(t, testKey, true)
		tok, ck := issue(t, c)
		require.False(t, c.Valid(post(url.Values{hosted.CSRFField: {tok}})), "no cookie")
		require.False(t, c.Valid(post(url.Values{"email": {"a@b.test"}}, ck)), "no field")
		require.False(t, c.Valid(post(url.Values{hosted.CSRFField: {""}}, ck)), "empty field")
	})

	t.Run("CrossCookie", func(t *testing.T) {
		t.Parallel()
		c := newCSRF(t, testKey, true)
		tokA, _ := issue(t, c)
		_, ckB := issue(t, c)
		require.False(t, c.Valid(post(url.Values{hosted.CSRFField: {tokA}}, ckB)), "token of another browser's cookie")
	})

	t.Run("OtherKey", func(t *testing.T) {
		t.Parallel()
		tok, ck := issue(t, newCSRF(t, testKey, true))
		other := newCSRF(t, bytes.Repeat([]byte{0x43}, 32), true)
		require.False(t, other.Valid(post(url.Values{hosted.CSRFField: {tok}}, ck)))
	})

	t.Run("OtherCookieName", func(t *testing.T) {
		t.Parallel()
		insecure := newCSRF(t, testKey, false)
		tok, ck := issue(t, insecure)
		secure := newCSRF(t, testKey, true)
		require.False(t, secure.Valid(post(url.Values{hosted.CSRFField: {tok}}, ck)), "an insecure cookie does not satisfy the __Host- one")
	})

	t.Run("FormPostOnly", func(t *testing.T) {
		t.Parallel()
		c := newCSRF(t, testKey, true)
		tok, ck := issue(t, c)
		get := httptest.NewRequest(http.MethodGet, "/authorize?"+url.Values{hosted.CSRFField: {tok}}.Encode(), nil)
		get.AddCookie(ck)
		require.False(t, c.Valid(get))
		query := httptest.NewRequest(http.MethodPost, "/authorize?"+url.Values{hosted.CSRFField: {tok}}.Encode(), nil)
		query.AddCookie(ck)
		require.False(t, c.Valid(query), "the token must be in the body, not the URL")
		put := post(url.Values{hosted.CSRFField: {tok}}, ck)
		put.Method = http.MethodPut
		require.False(t, c.Valid(put))
	})
}

// flipFirst changes the first character, which always carries MAC bits.
func flipFirst(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}
