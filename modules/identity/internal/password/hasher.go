package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"runtime"

	"golang.org/x/crypto/argon2"
)

// Hasher hashes and verifies passwords with Argon2id. It is safe for
// concurrent use; at most maxConcurrent Argon2id computations run at once,
// so its peak memory is about maxConcurrent × Params.MemoryKiB.
type Hasher struct {
	params Params
	// sem holds one token per running computation.
	sem chan struct{}
	// dummy is a hash of a random secret made with params, verified by
	// DummyVerify so that unknown users cost the same as known ones.
	dummy decoded
}

// NewHasher returns a Hasher for p that runs at most maxConcurrent
// computations at once; maxConcurrent <= 0 means runtime.NumCPU(). It
// returns an error when p fails [Params.Validate]. NewHasher computes one
// hash (for [Hasher.DummyVerify]), so it takes as long as one [Hasher.Hash].
func NewHasher(p Params, maxConcurrent int) (*Hasher, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("invalid argon2id params: %w", err)
	}
	if maxConcurrent <= 0 {
		maxConcurrent = runtime.NumCPU()
	}
	h := &Hasher{params: p, sem: make(chan struct{}, maxConcurrent)}

	secret, err := randomBytes(32)
	if err != nil {
		return nil, fmt.Errorf("generate dummy password: %w", err)
	}
	salt, err := randomBytes(p.SaltLen)
	if err != nil {
		return nil, fmt.Errorf("generate dummy salt: %w", err)
	}
	h.dummy = decoded{params: p, salt: salt, key: derive(secret, salt, p)}
	return h, nil
}

// Params returns the parameters new hashes are made with.
func (h *Hasher) Params() Params {
	return h.params
}

// Hash returns the Argon2id PHC string of password under a fresh random
// salt. It does not apply the password policy; call [Validate] first when
// setting a password. Waiting for a computation slot ends with ctx, and the
// context's error is returned.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt, err := randomBytes(h.params.SaltLen)
	if err != nil {
		return "", fmt.Errorf("generate salt: %w", err)
	}
	if err := h.acquire(ctx); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := derive([]byte(password), salt, h.params)
	h.release()
	return encode(h.params, salt, key), nil
}

// Verify reports whether password matches encoded, a PHC string made by
// Hash (possibly under other parameters). The comparison is constant-time.
// needsRehash is true only when ok is true and encoded was made with
// parameters (cost, salt or key length) other than h.Params(): the caller
// should then store a fresh Hash of password. A malformed encoded string, or
// one whose parameters exceed the package bounds, gives an error wrapping
// [ErrMalformedHash]; a context that ends while waiting for a computation
// slot gives an error wrapping the context's error.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (ok, needsRehash bool, err error) {
	d, err := decode(encoded)
	if err != nil {
		return false, false, fmt.Errorf("verify password: %w", err)
	}
	ok, err = h.verify(ctx, password, d)
	if err != nil {
		return false, false, fmt.Errorf("verify password: %w", err)
	}
	return ok, ok && d.params != h.params, nil
}

// DummyVerify verifies password against a hash made with h.Params() at
// construction, and discards the result. Call it when a login names an
// unknown user so that the response takes as long as for a known one.
func (h *Hasher) DummyVerify(ctx context.Context, password string) {
	_, _ = h.verify(ctx, password, h.dummy)
}

// verify derives the key for password under d's parameters and compares it
// with d's key in constant time.
func (h *Hasher) verify(ctx context.Context, password string, d decoded) (bool, error) {
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	key := derive([]byte(password), d.salt, d.params)
	h.release()
	return subtle.ConstantTimeCompare(key, d.key) == 1, nil
}

// acquire takes a computation slot, or returns ctx.Err() if ctx ends first
// (or has already ended).
func (h *Hasher) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("wait for hash slot: %w", err)
	}
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for hash slot: %w", ctx.Err())
	}
}

// release gives back a slot taken by acquire.
func (h *Hasher) release() {
	<-h.sem
}

// derive runs Argon2id. p must have passed Params.Validate.
func derive(password, salt []byte, p Params) []byte {
	return argon2.IDKey(password, salt, p.Iterations, p.MemoryKiB, p.Parallelism, p.KeyLen)
}

// randomBytes returns n bytes from crypto/rand.
func randomBytes(n uint32) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("read random: %w", err)
	}
	return b, nil
}
