package crypto

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
)

// RandomBytes returns n bytes from the operating system's CSPRNG. It cannot
// fail: crypto/rand.Read never returns an error (Go 1.24+) and crashes the
// program instead of returning predictable bytes.
func RandomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// RandomToken returns nBytes random bytes as unpadded base64url, suitable
// for URLs and headers. 32 bytes give 256 bits of entropy.
func RandomToken(nBytes int) string {
	return base64.RawURLEncoding.EncodeToString(RandomBytes(nBytes))
}

// RandomHex returns nBytes random bytes as lowercase hex (2*nBytes chars).
func RandomHex(nBytes int) string {
	return hex.EncodeToString(RandomBytes(nBytes))
}

// RandomString returns n characters drawn uniformly and independently from
// alphabet, using rejection sampling so that no character is favoured. The
// alphabet is a set of 1 to 256 distinct bytes; an alphabet with a repeated
// byte is refused because it would bias the result.
func RandomString(n int, alphabet string) (string, error) {
	if n < 0 {
		return "", errors.New("random string: negative length")
	}
	if len(alphabet) == 0 || len(alphabet) > 256 {
		return "", fmt.Errorf("random string: alphabet must have 1 to 256 characters, got %d", len(alphabet))
	}
	var seen [256]bool
	for i := range len(alphabet) {
		if seen[alphabet[i]] {
			return "", fmt.Errorf("random string: alphabet repeats %q", alphabet[i])
		}
		seen[alphabet[i]] = true
	}
	size := len(alphabet)
	// Accept bytes below the largest multiple of size that fits in a byte;
	// for size 256 every byte is accepted.
	limit := 256 - 256%size
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/2+8)
	for len(out) < n {
		_, _ = rand.Read(buf)
		for _, b := range buf {
			if int(b) >= limit {
				continue
			}
			out = append(out, alphabet[int(b)%size])
			if len(out) == n {
				break
			}
		}
	}
	return string(out), nil
}

// HashToken returns the lowercase hex SHA-256 of token: the stored form of
// high-entropy secrets (API keys, invitation, reset and verification tokens,
// SCIM tokens). Low-entropy secrets such as passwords must not use it.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// HashTokenBytes returns the raw 32-byte SHA-256 of token, for callers that
// store a bytea column or need another encoding (e.g. base64 for service
// client secrets).
func HashTokenBytes(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// Equal reports whether a and b are equal in time independent of their
// contents. Both are hashed first, so strings of different lengths are
// compared in full too and no prefix match can be detected by timing.
func Equal(a, b string) bool {
	ha := sha256.Sum256([]byte(a))
	hb := sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}
