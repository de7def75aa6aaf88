package crypto

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRandom(t *testing.T) {
	t.Parallel()

	t.Run("Bytes", func(t *testing.T) {
		t.Parallel()
		a, b := RandomBytes(32), RandomBytes(32)
		require.Len(t, a, 32)
		require.NotEqual(t, a, b)
		require.Empty(t, RandomBytes(0))
	})

	t.Run("Token", func(t *testing.T) {
		t.Parallel()
		tok := RandomToken(32)
		require.Len(t, tok, 43)
		require.NotContains(t, tok, "=")
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		require.NoError(t, err)
		require.Len(t, raw, 32)
		require.NotEqual(t, tok, RandomToken(32))
	})

	t.Run("Hex", func(t *testing.T) {
		t.Parallel()
		h := RandomHex(16)
		require.Len(t, h, 32)
		_, err := hex.DecodeString(h)
		require.NoError(t, err)
		require.Equal(t, strings.ToLower(h), h)
	})

	t.Run("StringUsesWholeAlphabet", func(t *testing.T) {
		t.Parallel()
		const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789" // device user codes
		counts := map[rune]int{}
		const draws = 2000
		for range draws {
			s, err := RandomString(8, alphabet)
			require.NoError(t, err)
			require.Len(t, s, 8)
			for _, r := range s {
				require.True(t, strings.ContainsRune(alphabet, r), "unexpected %q", r)
				counts[r]++
			}
		}
		require.Len(t, counts, len(alphabet))
		// 16000 draws over 32 symbols: expect 500 each; a sound generator
		// stays far inside these bounds.
		for r, n := range counts {
			require.Greater(t, n, 350, "symbol %q under-represented", r)
			require.Less(t, n, 650, "symbol %q over-represented", r)
		}
	})

	t.Run("StringNonPowerOfTwoAlphabetUnbiased", func(t *testing.T) {
		t.Parallel()
		// With 3 symbols, a plain modulo would favour 'a' (256 = 3*85 + 1).
		// Rejection sampling keeps each near one third.
		s, err := RandomString(30_000, "abc")
		require.NoError(t, err)
		for _, c := range "abc" {
			n := strings.Count(s, string(c))
			require.InDelta(t, 10_000, n, 600, "symbol %q", c)
		}
	})

	t.Run("StringEdgeCases", func(t *testing.T) {
		t.Parallel()
		s, err := RandomString(0, "ab")
		require.NoError(t, err)
		require.Empty(t, s)
		s, err = RandomString(5, "x")
		require.NoError(t, err)
		require.Equal(t, "xxxxx", s)
		all := make([]byte, 256)
		for i := range all {
			all[i] = byte(i)
		}
		s, err = RandomString(64, string(all))
		require.NoError(t, err)
		require.Len(t, s, 64)

		_, err = RandomString(4, "")
		require.ErrorContains(t, err, "1 to 256")
		_, err = RandomString(4, "abca")
		require.ErrorContains(t, err, "repeats")
		_, err = RandomString(-1, "ab")
		require.ErrorContains(t, err, "negative")
	})
}

func TestHashToken(t *testing.T) {
	t.Parallel()

	t.Run("KnownVector", func(t *testing.T) {
		t.Parallel()
		const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
		require.Equal(t, want, HashToken("abc"))
		raw := HashTokenBytes("abc")
		require.Len(t, raw, 32)
		require.Equal(t, want, hex.EncodeToString(raw))
	})

	t.Run("Empty", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", HashToken(""))
	})
}

func TestEqual(t *testing.T) {
	t.Parallel()

	require.True(t, Equal("", ""))
	require.True(t, Equal("token", "token"))
	require.False(t, Equal("token", "tokeN"))
	require.False(t, Equal("token", "token2"))
	require.False(t, Equal("token", ""))
	require.False(t, Equal("", "x"))
}

func BenchmarkHashToken(b *testing.B) {
	tok := RandomToken(32)
	for b.Loop() {
		_ = HashToken(tok)
	}
}
