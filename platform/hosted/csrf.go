package hosted

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
)

// CSRFField is the form field that carries the CSRF token. The Renderer
// adds it to every form when the page data has a CSRFToken.
const CSRFField = "csrf_token"

const (
	csrfCookieSecure   = "__Host-authos_csrf"
	csrfCookieInsecure = "authos_csrf"
	csrfValueBytes     = 32
	csrfMACLabel       = "authos hosted csrf v1\x00"
)

// CSRF protects the hosted pages' form POSTs with a signed double-submit
// cookie: a random value lives in an HttpOnly cookie and the form carries
// HMAC(key, value). An attacker can neither read the cookie nor compute the
// token for a cookie it managed to plant without the key. It is safe for
// concurrent use.
type CSRF struct {
	key    []byte
	secure bool
}

// NewCSRF returns a CSRF protector. key must hold at least 32 bytes of
// secret randomness and be the same on every API replica. secure selects
// the __Host- cookie (Secure, needs HTTPS); use false only for plain-HTTP
// development and tests.
func NewCSRF(key []byte, secure bool) (*CSRF, error) {
	if len(key) < 32 {
		return nil, errors.New("create csrf protector: key must be at least 32 bytes")
	}
	return &CSRF{key: append([]byte(nil), key...), secure: secure}, nil
}

// CookieName returns the name of the CSRF cookie.
func (c *CSRF) CookieName() string {
	if c.secure {
		return csrfCookieSecure
	}
	return csrfCookieInsecure
}

// Token returns the form token for this browser, for the page's CSRFToken.
// It keeps the browser's CSRF cookie when it has a well-formed one (so
// several open tabs keep working) and otherwise sets a new one; either way
// it sends the cookie again. Call it before writing the response.
func (c *CSRF) Token(w http.ResponseWriter, r *http.Request) string {
	value, ok := c.cookieValue(r)
	if !ok {
		var b [csrfValueBytes]byte
		_, _ = rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
		value = b[:]
	}
	http.SetCookie(w, &http.Cookie{
		Name:     c.CookieName(),
		Value:    base64.RawURLEncoding.EncodeToString(value),
		Path:     "/",
		Secure:   c.secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
	return base64.RawURLEncoding.EncodeToString(c.mac(value))
}

// Valid reports whether r is a form POST whose csrf_token field matches the
// request's CSRF cookie. A missing cookie, a missing or malformed field, or
// any other method gives false. It reads the form body (r.PostFormValue):
// limit the body size before calling it.
func (c *CSRF) Valid(r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	value, ok := c.cookieValue(r)
	if !ok {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(r.PostFormValue(CSRFField))
	if err != nil || len(got) != sha256.Size {
		return false
	}
	return hmac.Equal(got, c.mac(value))
}

// cookieValue returns the decoded cookie value when present and well formed.
func (c *CSRF) cookieValue(r *http.Request) ([]byte, bool) {
	ck, err := r.Cookie(c.CookieName())
	if err != nil {
		return nil, false
	}
	v, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil || len(v) != csrfValueBytes {
		return nil, false
	}
	return v, true
}

func (c *CSRF) mac(value []byte) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(csrfMACLabel))
	m.Write(value)
	return m.Sum(nil)
}
