package password

import (
	"errors"
	"fmt"
)

// Bounds on Argon2id parameters. They apply both to the parameters a
// [Hasher] is built with and to those read back from stored hashes, so a
// corrupt or tampered hash cannot demand gigabytes of memory or minutes of
// CPU from a single login attempt.
const (
	// MaxMemoryKiB is the largest accepted memory cost: 1 GiB.
	MaxMemoryKiB = 1 << 20
	// MaxIterations is the largest accepted time cost.
	MaxIterations = 100
	// MaxParallelism is the largest accepted number of lanes.
	MaxParallelism = 64
	// MinSaltLen and MaxSaltLen bound the salt length in bytes.
	MinSaltLen = 8
	MaxSaltLen = 64
	// MinKeyLen and MaxKeyLen bound the derived key length in bytes.
	MinKeyLen = 16
	MaxKeyLen = 64
)

// Params are the Argon2id cost parameters and output sizes.
type Params struct {
	// MemoryKiB is the memory cost m in KiB; at least 8 × Parallelism.
	MemoryKiB uint32
	// Iterations is the time cost t; at least 1.
	Iterations uint32
	// Parallelism is the number of lanes p; at least 1.
	Parallelism uint8
	// SaltLen is the length in bytes of the random salt of new hashes.
	SaltLen uint32
	// KeyLen is the length in bytes of the derived key of new hashes.
	KeyLen uint32
}

// DefaultParams returns the OWASP-recommended Argon2id parameters: 19 MiB of
// memory, 2 iterations, 1 lane, a 16-byte salt and a 32-byte key.
func DefaultParams() Params {
	return Params{
		MemoryKiB:   19 * 1024,
		Iterations:  2,
		Parallelism: 1,
		SaltLen:     16,
		KeyLen:      32,
	}
}

// Validate reports every way in which p falls outside the accepted bounds,
// joined into one error, or nil when p is usable.
func (p Params) Validate() error {
	checks := []struct {
		bad bool
		msg string
	}{
		{p.Parallelism < 1, "parallelism must be at least 1"},
		{p.Parallelism > MaxParallelism, fmt.Sprintf("parallelism must be at most %d", MaxParallelism)},
		{uint64(p.MemoryKiB) < 8*uint64(p.Parallelism), fmt.Sprintf("memory must be at least 8 KiB per lane (%d KiB)", 8*uint64(p.Parallelism))},
		{p.MemoryKiB > MaxMemoryKiB, fmt.Sprintf("memory must be at most %d KiB", MaxMemoryKiB)},
		{p.Iterations < 1, "iterations must be at least 1"},
		{p.Iterations > MaxIterations, fmt.Sprintf("iterations must be at most %d", MaxIterations)},
		{p.SaltLen < MinSaltLen || p.SaltLen > MaxSaltLen, fmt.Sprintf("salt length must be between %d and %d bytes", MinSaltLen, MaxSaltLen)},
		{p.KeyLen < MinKeyLen || p.KeyLen > MaxKeyLen, fmt.Sprintf("key length must be between %d and %d bytes", MinKeyLen, MaxKeyLen)},
	}
	var errs []error
	for _, c := range checks {
		if c.bad {
			errs = append(errs, errors.New(c.msg))
		}
	}
	return errors.Join(errs...)
}
