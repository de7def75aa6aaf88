package password

import (
	"context"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testParams are cheap parameters that keep the tests fast.
func testParams() Params {
	return Params{MemoryKiB: 8192, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}
}

func newTestHasher(t testing.TB, p Params, maxConcurrent int) *Hasher {
	t.Helper()
	h, err := NewHasher(p, maxConcurrent)
	require.NoError(t, err)
	return h
}

func TestDefaultParams(t *testing.T) {
	t.Parallel()

	p := DefaultParams()
	require.Equal(t, Params{MemoryKiB: 19456, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}, p)
	require.NoError(t, p.Validate())
}

func TestNewHasher(t *testing.T) {
	t.Parallel()

	t.Run("RejectsInvalidParams", func(t *testing.T) {
		t.Parallel()

		cases := []struct {
			name   string
			modify func(p *Params)
			want   string
		}{
			{"ZeroParallelism", func(p *Params) { p.Parallelism = 0 }, "parallelism must be at least 1"},
			{"TooMuchParallelism", func(p *Params) { p.Parallelism = 65; p.MemoryKiB = 65 * 8 }, "parallelism must be at most 64"},
			{"MemoryBelowEightPerLane", func(p *Params) { p.Parallelism = 4; p.MemoryKiB = 31 }, "memory must be at least 8 KiB per lane"},
			{"MemoryAboveOneGiB", func(p *Params) { p.MemoryKiB = 1<<20 + 1 }, "memory must be at most"},
			{"ZeroIterations", func(p *Params) { p.Iterations = 0 }, "iterations must be at least 1"},
			{"TooManyIterations", func(p *Params) { p.Iterations = 101 }, "iterations must be at most 100"},
			{"ShortSalt", func(p *Params) { p.SaltLen = 7 }, "salt length"},
			{"LongSalt", func(p *Params) { p.SaltLen = 65 }, "salt length"},
			{"ShortKey", func(p *Params) { p.KeyLen = 15 }, "key length"},
			{"LongKey", func(p *Params) { p.KeyLen = 65 }, "key length"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()

				p := testParams()
				tc.modify(&p)
				h, err := NewHasher(p, 1)
				require.ErrorContains(t, err, tc.want)
				require.Nil(t, h)
			})
		}
	})

	t.Run("ReportsEveryProblem", func(t *testing.T) {
		t.Parallel()

		_, err := NewHasher(Params{}, 1)
		require.ErrorContains(t, err, "parallelism must be at least 1")
		require.ErrorContains(t, err, "iterations must be at least 1")
		require.ErrorContains(t, err, "salt length")
		require.ErrorContains(t, err, "key length")
	})

	t.Run("AcceptsBounds", func(t *testing.T) {
		t.Parallel()

		p := Params{MemoryKiB: 16, Iterations: 1, Parallelism: 2, SaltLen: MinSaltLen, KeyLen: MinKeyLen}
		h := newTestHasher(t, p, 1)
		require.Equal(t, p, h.Params())
	})

	t.Run("DefaultsConcurrencyToNumCPU", func(t *testing.T) {
		t.Parallel()

		h := newTestHasher(t, testParams(), 0)
		require.Equal(t, runtime.NumCPU(), cap(h.sem))
		h = newTestHasher(t, testParams(), -3)
		require.Equal(t, runtime.NumCPU(), cap(h.sem))
		h = newTestHasher(t, testParams(), 3)
		require.Equal(t, 3, cap(h.sem))
	})
}

func TestHasher_Hash(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("ProducesPHCStringWithDefaultParams", func(t *testing.T) {
		t.Parallel()

		h := newTestHasher(t, DefaultParams(), 1)
		encoded, err := h.Hash(ctx, "correct horse battery staple")
		require.NoError(t, err)
		// 16-byte salt → 22 chars, 32-byte key → 43 chars, no padding.
		require.Regexp(t, regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`), encoded)

		d, err := decode(encoded)
		require.NoError(t, err)
		require.Equal(t, DefaultParams(), d.params)
		require.Len(t, d.salt, 16)
		require.Len(t, d.key, 32)
	})

	t.Run("RecordsConfiguredParams", func(t *testing.T) {
		t.Parallel()

		p := Params{MemoryKiB: 64, Iterations: 3, Parallelism: 2, SaltLen: 24, KeyLen: 48}
		h := newTestHasher(t, p, 1)
		encoded, err := h.Hash(ctx, "correct horse battery staple")
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(encoded, "$argon2id$v=19$m=64,t=3,p=2$"), encoded)

		d, err := decode(encoded)
		require.NoError(t, err)
		require.Equal(t, p, d.params)
	})

	t.Run("UsesFreshSalt", func(t *testing.T) {
		t.Parallel()

		h := newTestHasher(t, testParams(), 2)
		a, err := h.Hash(ctx, "same password")
		require.NoError(t, err)
		b, err := h.Hash(ctx, "same password")
		require.NoError(t, err)
		require.NotEqual(t, a, b)

		da, err := decode(a)
		require.NoError(t, err)
		db, err := decode(b)
		require.NoError(t, err)
		require.NotEqual(t, da.salt, db.salt)
	})
}

func TestHasher_Verify(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("MatchesOnlyTheRightPassword", func(t *testing.T) {
		t.Parallel()

		h := newTestHasher(t, testParams(), 2)
		for _, pw := range []string{"correct horse battery staple", "pässwörd-日本語-🔑", ""} {
			encoded, err := h.Hash(ctx, pw)
			require.NoError(t, err)

			ok, needsRehash, err := h.Verify(ctx, pw, encoded)
			require.NoError(t, err)
			require.True(t, ok, pw)
			require.False(t, needsRehash)

			ok, needsRehash, err = h.Verify(ctx, pw+"x", encoded)
			require.NoError(t, err)
			require.False(t, ok, pw)
			require.False(t, needsRehash)
		}
	})

	t.Run("IsCaseSensitive", func(t *testing.T) {
		t.Parallel()

		h := newTestHasher(t, testParams(), 1)
		encoded, err := h.Hash(ctx, "Tr0ub4dor&3")
		require.NoError(t, err)
		ok, _, err := h.Verify(ctx, "tr0ub4dor&3", encoded)
		require.NoError(t, err)
		require.False(t, ok)
	})

	t.Run("NeedsRehashWhenParamsDiffer", func(t *testing.T) {
		t.Parallel()

		current := testParams()
		current.Iterations = 2
		h := newTestHasher(t, current, 2)

		cases := []struct {
			name   string
			modify func(p *Params)
		}{
			{"Iterations", func(p *Params) { p.Iterations = 1 }},
			{"Memory", func(p *Params) { p.MemoryKiB = 4096 }},
			{"Parallelism", func(p *Params) { p.Parallelism = 2 }},
			{"SaltLen", func(p *Params) { p.SaltLen = 8 }},
			{"KeyLen", func(p *Params) { p.KeyLen = 16 }},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()

				old := current
				tc.modify(&old)
				encoded, err := newTestHasher(t, old, 1).Hash(ctx, "correct horse battery staple")
				require.NoError(t, err)

				ok, needsRehash, err := h.Verify(ctx, "correct horse battery staple", encoded)
				require.NoError(t, err)
				require.True(t, ok)
				require.True(t, needsRehash)

				// A wrong password never asks for a rehash.
				ok, needsRehash, err = h.Verify(ctx, "wrong password", encoded)
				require.NoError(t, err)
				require.False(t, ok)
				require.False(t, needsRehash)
			})
		}
	})

	t.Run("RefusesMalformedHashes", func(t *testing.T) {
		t.Parallel()

		h := newTestHasher(t, testParams(), 2)
		valid, err := h.Hash(ctx, "correct horse battery staple")
		require.NoError(t, err)
		fields := strings.Split(valid, "$")
		salt, key := fields[4], fields[5]
		with := func(algo, version, params, salt, key string) string {
			return strings.Join([]string{"", algo, version, params, salt, key}, "$")
		}

		cases := []struct {
			name    string
			encoded string
		}{
			{"Empty", ""},
			{"Garbage", "not a hash"},
			{"Bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
			{"Argon2i", with("argon2i", "v=19", "m=8192,t=1,p=1", salt, key)},
			{"Argon2d", with("argon2d", "v=19", "m=8192,t=1,p=1", salt, key)},
			{"UppercaseAlgorithm", with("ARGON2ID", "v=19", "m=8192,t=1,p=1", salt, key)},
			{"OldVersion", with("argon2id", "v=16", "m=8192,t=1,p=1", salt, key)},
			{"MissingVersion", "$argon2id$m=8192,t=1,p=1$" + salt + "$" + key},
			{"MissingHash", "$argon2id$v=19$m=8192,t=1,p=1$" + salt},
			{"MissingSaltAndHash", "$argon2id$v=19$m=8192,t=1,p=1"},
			{"ExtraField", valid + "$extra"},
			{"NoLeadingDollar", strings.TrimPrefix(valid, "$")},
			{"EmptySalt", with("argon2id", "v=19", "m=8192,t=1,p=1", "", key)},
			{"EmptyHash", with("argon2id", "v=19", "m=8192,t=1,p=1", salt, "")},
			{"BadBase64Salt", with("argon2id", "v=19", "m=8192,t=1,p=1", "!!!!"+salt[4:], key)},
			{"BadBase64Hash", with("argon2id", "v=19", "m=8192,t=1,p=1", salt, key[:len(key)-1]+"*")},
			{"PaddedBase64", with("argon2id", "v=19", "m=8192,t=1,p=1", salt+"==", key)},
			{"URLBase64", with("argon2id", "v=19", "m=8192,t=1,p=1", salt, strings.Repeat("_", 43))},
			{"NonCanonicalBase64", with("argon2id", "v=19", "m=8192,t=1,p=1", salt, key[:len(key)-1]+"B")},
			{"NewlineInBase64", with("argon2id", "v=19", "m=8192,t=1,p=1", salt[:10]+"\n"+salt[10:], key)},
			{"MissingParam", with("argon2id", "v=19", "m=8192,t=1", salt, key)},
			{"ExtraParam", with("argon2id", "v=19", "m=8192,t=1,p=1,k=2", salt, key)},
			{"ParamsOutOfOrder", with("argon2id", "v=19", "t=1,m=8192,p=1", salt, key)},
			{"ParamNotNumber", with("argon2id", "v=19", "m=lots,t=1,p=1", salt, key)},
			{"LeadingZero", with("argon2id", "v=19", "m=08192,t=1,p=1", salt, key)},
			{"PlusSign", with("argon2id", "v=19", "m=+8192,t=1,p=1", salt, key)},
			{"NegativeParam", with("argon2id", "v=19", "m=8192,t=-1,p=1", salt, key)},
			{"ZeroIterations", with("argon2id", "v=19", "m=8192,t=0,p=1", salt, key)},
			{"ZeroParallelism", with("argon2id", "v=19", "m=8192,t=1,p=0", salt, key)},
			{"MemoryBelowMinimum", with("argon2id", "v=19", "m=7,t=1,p=1", salt, key)},
			{"AbsurdMemory", with("argon2id", "v=19", "m=4294967295,t=1,p=1", salt, key)},
			{"MemoryOverflowsUint32", with("argon2id", "v=19", "m=4294967296,t=1,p=1", salt, key)},
			{"MemoryJustAboveCap", with("argon2id", "v=19", "m=1048577,t=1,p=1", salt, key)},
			{"AbsurdIterations", with("argon2id", "v=19", "m=8192,t=4294967295,p=1", salt, key)},
			{"IterationsJustAboveCap", with("argon2id", "v=19", "m=8192,t=101,p=1", salt, key)},
			{"ParallelismAboveCap", with("argon2id", "v=19", "m=8192,t=1,p=65", salt, key)},
			{"ParallelismOverflowsUint8", with("argon2id", "v=19", "m=8192,t=1,p=256", salt, key)},
			{"SaltTooShort", with("argon2id", "v=19", "m=8192,t=1,p=1", "AAAAAAAA", key)},
			{"HashTooShort", with("argon2id", "v=19", "m=8192,t=1,p=1", salt, "AAAAAAAAAAAAAAAAAAAA")},
			{"HashTooLong", with("argon2id", "v=19", "m=8192,t=1,p=1", salt, strings.Repeat("A", 88))},
			{"HugeInput", with("argon2id", "v=19", "m=8192,t=1,p=1", salt, strings.Repeat("A", 1<<20))},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()

				ok, needsRehash, err := h.Verify(ctx, "correct horse battery staple", tc.encoded)
				require.ErrorIs(t, err, ErrMalformedHash)
				require.False(t, ok)
				require.False(t, needsRehash)
			})
		}
	})

	t.Run("AcceptsHashAtTheBounds", func(t *testing.T) {
		t.Parallel()

		// Smallest accepted salt and key, made by a hasher with those sizes.
		p := Params{MemoryKiB: 8, Iterations: 1, Parallelism: 1, SaltLen: MinSaltLen, KeyLen: MinKeyLen}
		encoded, err := newTestHasher(t, p, 1).Hash(ctx, "pw")
		require.NoError(t, err)
		ok, needsRehash, err := newTestHasher(t, testParams(), 1).Verify(ctx, "pw", encoded)
		require.NoError(t, err)
		require.True(t, ok)
		require.True(t, needsRehash)
	})
}

func TestHasher_Semaphore(t *testing.T) {
	t.Parallel()

	// holdSlot fills the single slot of h as a running computation would.
	holdSlot := func(h *Hasher) (release func()) {
		h.sem <- struct{}{}
		return func() { <-h.sem }
	}

	t.Run("CancelledContextWhileSlotHeld", func(t *testing.T) {
		t.Parallel()

		h := newTestHasher(t, testParams(), 1)
		encoded, err := h.Hash(context.Background(), "correct horse battery staple")
		require.NoError(t, err)
		release := holdSlot(h)
		defer release()

		ctx, cancel := context.WithCancel(context.Background())
		cancel()

		_, err = h.Hash(ctx, "correct horse battery staple")
		require.ErrorIs(t, err, context.Canceled)

		ok, needsRehash, err := h.Verify(ctx, "correct horse battery staple", encoded)
		require.ErrorIs(t, err, context.Canceled)
		require.False(t, ok)
		require.False(t, needsRehash)

		done := make(chan struct{})
		go func() {
			h.DummyVerify(ctx, "correct horse battery staple")
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			require.FailNow(t, "DummyVerify blocked despite a cancelled context")
		}
	})

	t.Run("DeadlineWhileWaiting", func(t *testing.T) {
		t.Parallel()

		h := newTestHasher(t, testParams(), 1)
		release := holdSlot(h)
		defer release()

		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := h.Hash(ctx, "correct horse battery staple")
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.GreaterOrEqual(t, time.Since(start), 40*time.Millisecond)
	})

	t.Run("CancelledContextWithFreeSlot", func(t *testing.T) {
		t.Parallel()

		h := newTestHasher(t, testParams(), 1)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := h.Hash(ctx, "correct horse battery staple")
		require.ErrorIs(t, err, context.Canceled)
	})

	t.Run("WaitersRunWhenSlotFrees", func(t *testing.T) {
		t.Parallel()

		h := newTestHasher(t, testParams(), 1)
		release := holdSlot(h)

		const waiters = 3
		results := make(chan error, waiters)
		for range waiters {
			go func() {
				_, err := h.Hash(context.Background(), "correct horse battery staple")
				results <- err
			}()
		}

		// Nobody may compute while the only slot is taken.
		select {
		case err := <-results:
			require.FailNow(t, "hash ran while the slot was held", "err: %v", err)
		case <-time.After(100 * time.Millisecond):
		}

		release()
		for range waiters {
			select {
			case err := <-results:
				require.NoError(t, err)
			case <-time.After(30 * time.Second):
				require.FailNow(t, "waiter did not run after the slot was released")
			}
		}
		require.Empty(t, h.sem, "every slot must be released")
	})
}

func TestHasher_DummyVerify(t *testing.T) {
	t.Parallel()

	t.Run("UsesHasherParams", func(t *testing.T) {
		t.Parallel()

		h := newTestHasher(t, testParams(), 1)
		require.Equal(t, testParams(), h.dummy.params)
		require.Len(t, h.dummy.salt, int(testParams().SaltLen))
		require.Len(t, h.dummy.key, int(testParams().KeyLen))
		ok, err := h.verify(context.Background(), "correct horse battery staple", h.dummy)
		require.NoError(t, err)
		require.False(t, ok)
	})

	t.Run("CostsAboutAsMuchAsVerify", func(t *testing.T) {
		t.Parallel()

		ctx := context.Background()
		h := newTestHasher(t, testParams(), 1)
		encoded, err := h.Hash(ctx, "correct horse battery staple")
		require.NoError(t, err)

		// Interleave the runs and compare the fastest of each, which is
		// the least disturbed by other tests running in parallel.
		const runs = 7
		var minVerify, minDummy time.Duration
		for i := range runs {
			start := time.Now()
			ok, _, err := h.Verify(ctx, "wrong password", encoded)
			elapsed := time.Since(start)
			require.NoError(t, err)
			require.False(t, ok)
			if i == 0 || elapsed < minVerify {
				minVerify = elapsed
			}

			start = time.Now()
			h.DummyVerify(ctx, "wrong password")
			elapsed = time.Since(start)
			if i == 0 || elapsed < minDummy {
				minDummy = elapsed
			}
		}

		ratio := float64(minDummy) / float64(minVerify)
		require.GreaterOrEqual(t, ratio, 0.5, "dummy %v, verify %v", minDummy, minVerify)
		require.LessOrEqual(t, ratio, 2.0, "dummy %v, verify %v", minDummy, minVerify)
	})
}

func FuzzVerifyEncoded(f *testing.F) {
	h := newTestHasher(f, Params{MemoryKiB: 8, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 1)
	valid, err := h.Hash(context.Background(), "password")
	require.NoError(f, err)
	f.Add(valid)
	f.Add("")
	f.Add("$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")

	f.Fuzz(func(t *testing.T, encoded string) {
		d, decodeErr := decode(encoded)
		// Keep the fuzzer from spending minutes on legitimately expensive
		// (in-bounds) parameters: parsing is what is under test.
		if decodeErr == nil && uint64(d.params.MemoryKiB)*uint64(d.params.Iterations) > 64*1024 {
			return
		}
		ok, needsRehash, err := h.Verify(context.Background(), "password", encoded)
		if decodeErr != nil {
			require.ErrorIs(t, err, ErrMalformedHash)
			require.False(t, ok)
			require.False(t, needsRehash)
			return
		}
		require.NoError(t, err)
		if needsRehash {
			require.True(t, ok)
		}
		// What decodes must re-encode to the same string.
		require.Equal(t, encoded, encode(d.params, d.salt, d.key))
	})
}

func BenchmarkHashDefault(b *testing.B) {
	h := newTestHasher(b, DefaultParams(), 0)
	ctx := context.Background()

	b.Run("Serial", func(b *testing.B) {
		for b.Loop() {
			_, err := h.Hash(ctx, "correct horse battery staple")
			require.NoError(b, err)
		}
	})
	b.Run("Parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, err := h.Hash(ctx, "correct horse battery staple")
				require.NoError(b, err)
			}
		})
	})
}

func BenchmarkVerifyDefault(b *testing.B) {
	h := newTestHasher(b, DefaultParams(), 0)
	ctx := context.Background()
	encoded, err := h.Hash(ctx, "correct horse battery staple")
	require.NoError(b, err)

	b.Run("Serial", func(b *testing.B) {
		for b.Loop() {
			ok, _, err := h.Verify(ctx, "correct horse battery staple", encoded)
			require.NoError(b, err)
			require.True(b, ok)
		}
	})
	b.Run("Parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				ok, _, err := h.Verify(ctx, "correct horse battery staple", encoded)
				require.NoError(b, err)
				require.True(b, ok)
			}
		})
	})
}
