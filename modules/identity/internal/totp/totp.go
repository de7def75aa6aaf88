// Package totp implements the second factor of AuthOS accounts: RFC 6238
// time-based one-time passwords (SHA-1, 6 digits, 30 s steps, ±1 step of
// clock skew) on top of github.com/pquerna/otp, their otpauth provisioning
// URI and QR code (as SVG), and single-use backup codes.
//
// The package holds no state: secrets are generated here and stored
// (encrypted) by the identity module, which also enforces that a time step
// is accepted at most once per account.
package totp

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	pqtotp "github.com/pquerna/otp/totp"

	"github.com/authos/authos/platform/crypto"
)

// Parameters of the TOTP codes AuthOS issues (spec §3.2).
const (
	// Issuer names AuthOS in authenticator apps.
	Issuer = "AuthOS"
	// Digits is the length of a code.
	Digits = 6
	// Period is the length of one time step.
	Period = 30 * time.Second
	// Skew is how many steps before and after the current one are accepted.
	Skew = 1
	// SecretSize is the secret length in bytes (160 bits, RFC 4226 §4).
	SecretSize = 20
)

// Backup code parameters (spec §3.2): 10 codes of 8 characters shown as
// XXXX-XXXX, drawn from uppercase letters and digits without the easily
// confused I, O, 0 and 1.
const (
	BackupCodeCount    = 10
	BackupCodeLength   = 8
	BackupCodeAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
)

// ErrInvalidSecret is returned for a secret that is not unpadded base32 of
// SecretSize bytes.
var ErrInvalidSecret = errors.New("totp: invalid secret")

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// Key is a new secret and its provisioning URI.
type Key struct {
	// Secret is the base32 secret (unpadded, uppercase), what users type
	// into an authenticator app that cannot scan the QR code.
	Secret string
	// URI is the otpauth://totp/ provisioning URI.
	URI string
}

// Generate returns a new random secret for account (the user's email).
func Generate(account string) (Key, error) {
	if account == "" {
		return Key{}, errors.New("totp: account name is required")
	}
	k, err := pqtotp.Generate(pqtotp.GenerateOpts{
		Issuer: Issuer, AccountName: account, Period: uint(Period / time.Second), SecretSize: SecretSize,
		Secret: crypto.RandomBytes(SecretSize), Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return Key{}, fmt.Errorf("totp: generate key: %w", err)
	}
	return Key{Secret: k.Secret(), URI: k.URL()}, nil
}

// Step returns the RFC 6238 time step (counter) of t.
func Step(t time.Time) int64 {
	return t.Unix() / int64(Period/time.Second)
}

// Validate checks a code against secret at now, accepting the current step
// and Skew steps on either side. It returns the step the code matched, so
// the caller can refuse a step it already accepted (RFC 6238 §5.2). The
// code must be exactly Digits ASCII digits. Codes are compared in constant
// time. It returns ErrInvalidSecret for a malformed secret.
func Validate(secret, code string, now time.Time) (step int64, ok bool, err error) {
	raw, err := b32.DecodeString(strings.ToUpper(strings.TrimSpace(secret)))
	if err != nil || len(raw) != SecretSize {
		return 0, false, ErrInvalidSecret
	}
	if !isDigits(code, Digits) {
		return 0, false, nil
	}
	current := Step(now)
	// The current step first: it is the likeliest and wins a collision.
	for _, s := range []int64{current, current - 1, current + 1} {
		if s < 0 {
			continue
		}
		want, err := hotp.GenerateCodeCustom(secret, uint64(s), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return 0, false, ErrInvalidSecret
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return s, true, nil
		}
	}
	return 0, false, nil
}

// IsCode reports whether code has the shape of a TOTP code (six digits).
func IsCode(code string) bool { return isDigits(code, Digits) }

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// GenerateBackupCodes returns n distinct backup codes formatted XXXX-XXXX,
// from crypto/rand.
func GenerateBackupCodes(n int) ([]string, error) {
	seen := make(map[string]bool, n)
	out := make([]string, 0, n)
	for len(out) < n {
		raw, err := crypto.RandomString(BackupCodeLength, BackupCodeAlphabet)
		if err != nil {
			return nil, fmt.Errorf("totp: backup code: %w", err)
		}
		if seen[raw] {
			continue
		}
		seen[raw] = true
		out = append(out, raw[:4]+"-"+raw[4:])
	}
	return out, nil
}

// NormalizeBackupCode strips dashes and white space and upper-cases code.
// It reports false when the result is not BackupCodeLength characters of
// BackupCodeAlphabet, which no backup code can match.
func NormalizeBackupCode(code string) (string, bool) {
	var b strings.Builder
	for _, r := range code {
		switch r {
		case '-', ' ', '\t':
			continue
		}
		if r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		if r > 127 || !strings.ContainsRune(BackupCodeAlphabet, r) {
			return "", false
		}
		b.WriteRune(r)
		if b.Len() > BackupCodeLength {
			return "", false
		}
	}
	if b.Len() != BackupCodeLength {
		return "", false
	}
	return b.String(), true
}

// HashBackupCode returns the stored form of a normalised backup code: the
// lowercase hex SHA-256. Backup codes carry 40 bits from a CSPRNG and are
// single use and rate limited, so a fast hash suffices (spec §22.1 item 3).
func HashBackupCode(normalized string) string {
	sum := sha256.Sum256([]byte(normalized))
	return hex.EncodeToString(sum[:])
}
