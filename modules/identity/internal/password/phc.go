package password

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// ErrMalformedHash is returned (wrapped with detail) by [Hasher.Verify] when
// the stored hash is not an Argon2id PHC string this package accepts,
// including one whose parameters exceed the package bounds.
var ErrMalformedHash = errors.New("malformed password hash")

const (
	phcAlgorithm = "argon2id"
	// maxEncodedLen caps the input parsed by decode. The largest string this
	// package accepts is well under 300 bytes (64-byte salt and key).
	maxEncodedLen = 512
)

// b64 is the PHC base64 flavour: standard alphabet, no padding, and strict
// about trailing bits so that each hash has exactly one encoding.
var b64 = base64.RawStdEncoding.Strict()

// decoded is a parsed PHC string.
type decoded struct {
	params Params
	salt   []byte
	key    []byte
}

// encode formats a hash as $argon2id$v=19$m=…,t=…,p=…$salt$key.
func encode(p Params, salt, key []byte) string {
	return fmt.Sprintf("$%s$v=%d$m=%d,t=%d,p=%d$%s$%s",
		phcAlgorithm, argon2.Version, p.MemoryKiB, p.Iterations, p.Parallelism,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// decode parses and bounds-checks a PHC string. It never panics; every
// failure wraps ErrMalformedHash.
func decode(s string) (decoded, error) {
	if len(s) > maxEncodedLen {
		return decoded{}, fmt.Errorf("%w: longer than %d bytes", ErrMalformedHash, maxEncodedLen)
	}
	for i := range len(s) {
		// Printable ASCII only: base64 decoding would otherwise skip CR/LF.
		if s[i] < 0x21 || s[i] > 0x7e {
			return decoded{}, fmt.Errorf("%w: invalid byte at offset %d", ErrMalformedHash, i)
		}
	}

	// "$argon2id$v=19$m=…,t=…,p=…$salt$key" splits into 6 fields, the
	// first one empty.
	fields := strings.Split(s, "$")
	if len(fields) != 6 || fields[0] != "" {
		return decoded{}, fmt.Errorf("%w: want 5 $-separated fields", ErrMalformedHash)
	}
	if fields[1] != phcAlgorithm {
		return decoded{}, fmt.Errorf("%w: unsupported algorithm %q", ErrMalformedHash, fields[1])
	}
	if fields[2] != "v="+strconv.Itoa(argon2.Version) {
		return decoded{}, fmt.Errorf("%w: unsupported version %q", ErrMalformedHash, fields[2])
	}

	var d decoded
	var err error
	if d.params, err = decodeParams(fields[3]); err != nil {
		return decoded{}, err
	}
	if d.salt, err = b64.DecodeString(fields[4]); err != nil {
		return decoded{}, fmt.Errorf("%w: salt: %w", ErrMalformedHash, err)
	}
	if d.key, err = b64.DecodeString(fields[5]); err != nil {
		return decoded{}, fmt.Errorf("%w: hash: %w", ErrMalformedHash, err)
	}
	d.params.SaltLen = uint32(len(d.salt)) //nolint:gosec // bounded by maxEncodedLen
	d.params.KeyLen = uint32(len(d.key))   //nolint:gosec // bounded by maxEncodedLen
	if err := d.params.Validate(); err != nil {
		return decoded{}, fmt.Errorf("%w: %w", ErrMalformedHash, err)
	}
	return d, nil
}

// decodeParams parses "m=<uint32>,t=<uint32>,p=<uint8>", in that order, as
// Argon2 implementations write them, with canonical decimals (no sign, no
// leading zeros) so that each hash has exactly one encoding. Range checks beyond the integer types
// are left to Params.Validate.
func decodeParams(s string) (Params, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return Params{}, fmt.Errorf("%w: want parameters m, t and p", ErrMalformedHash)
	}
	var vals [3]uint64
	for i, name := range [3]string{"m", "t", "p"} {
		bits := 32
		if name == "p" {
			bits = 8
		}
		raw, ok := strings.CutPrefix(parts[i], name+"=")
		if !ok {
			return Params{}, fmt.Errorf("%w: parameter %d is not %s", ErrMalformedHash, i+1, name)
		}
		if len(raw) > 1 && raw[0] == '0' {
			return Params{}, fmt.Errorf("%w: parameter %s has a leading zero", ErrMalformedHash, name)
		}
		v, err := strconv.ParseUint(raw, 10, bits)
		if err != nil {
			return Params{}, fmt.Errorf("%w: parameter %s: %w", ErrMalformedHash, name, err)
		}
		vals[i] = v
	}
	return Params{
		MemoryKiB:   uint32(vals[0]), //nolint:gosec // parsed with bitSize 32
		Iterations:  uint32(vals[1]), //nolint:gosec // parsed with bitSize 32
		Parallelism: uint8(vals[2]),  //nolint:gosec // parsed with bitSize 8
	}, nil
}
