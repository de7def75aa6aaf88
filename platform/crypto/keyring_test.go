package crypto

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func TestKeyRing(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		ring *KeyRing
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		ring, err := NewKeyRing("k1", testKey(1), nil)
		require.NoError(t, err)
		return &testBundle{ring: ring}
	}

	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, pt := range [][]byte{nil, []byte("x"), []byte("smtp-password"), bytes.Repeat([]byte("a"), 10_000)} {
			ct, keyID, err := b.ring.Encrypt(pt, []byte("org:1:smtp_password"))
			require.NoError(t, err)
			require.Equal(t, "k1", keyID)
			require.Len(t, ct, nonceSize+len(pt)+tagSize)
			got, err := b.ring.Decrypt(ct, keyID, []byte("org:1:smtp_password"))
			require.NoError(t, err)
			require.Equal(t, string(pt), string(got))
		}
	})

	t.Run("StringRoundTrip", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ct, keyID, err := b.ring.EncryptString("hunter2", "ad")
		require.NoError(t, err)
		require.NotContains(t, string(ct), "hunter2")
		got, err := b.ring.DecryptString(ct, keyID, "ad")
		require.NoError(t, err)
		require.Equal(t, "hunter2", got)
	})

	t.Run("TamperFails", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ct, keyID, err := b.ring.Encrypt([]byte("secret"), nil)
		require.NoError(t, err)
		for i := range ct {
			bad := bytes.Clone(ct)
			bad[i] ^= 0x01
			_, err := b.ring.Decrypt(bad, keyID, nil)
			require.ErrorIs(t, err, ErrDecrypt, "flipped byte %d", i)
		}
		_, err = b.ring.Decrypt(ct[:len(ct)-1], keyID, nil)
		require.ErrorIs(t, err, ErrDecrypt)
		_, err = b.ring.Decrypt(ct[:nonceSize+tagSize-1], keyID, nil)
		require.ErrorIs(t, err, ErrDecrypt)
		_, err = b.ring.Decrypt(nil, keyID, nil)
		require.ErrorIs(t, err, ErrDecrypt)
	})

	t.Run("WrongAssociatedDataFails", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ct, keyID, err := b.ring.Encrypt([]byte("secret"), []byte("org:1:smtp_password"))
		require.NoError(t, err)
		_, err = b.ring.Decrypt(ct, keyID, []byte("org:2:smtp_password"))
		require.ErrorIs(t, err, ErrDecrypt)
		_, err = b.ring.Decrypt(ct, keyID, nil)
		require.ErrorIs(t, err, ErrDecrypt)
	})

	t.Run("OtherKeyFails", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ct, _, err := b.ring.Encrypt([]byte("secret"), nil)
		require.NoError(t, err)
		other, err := NewKeyRing("k1", testKey(2), nil)
		require.NoError(t, err)
		_, err = other.Decrypt(ct, "k1", nil)
		require.ErrorIs(t, err, ErrDecrypt)
	})

	t.Run("UnknownKeyID", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ct, _, err := b.ring.Encrypt([]byte("secret"), nil)
		require.NoError(t, err)
		_, err = b.ring.Decrypt(ct, "k9", nil)
		require.ErrorIs(t, err, ErrUnknownKey)
		sealed, err := b.ring.Seal([]byte("secret"), nil)
		require.NoError(t, err)
		_, err = b.ring.Open(strings.Replace(sealed, "v1.k1.", "v1.k9.", 1), nil)
		require.ErrorIs(t, err, ErrUnknownKey)
	})

	t.Run("Rotation", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ct, keyID, err := b.ring.Encrypt([]byte("secret"), []byte("ad"))
		require.NoError(t, err)
		sealed, err := b.ring.Seal([]byte("sealed secret"), []byte("ad"))
		require.NoError(t, err)
		require.False(t, b.ring.NeedsRewrap(keyID))

		rotated, err := NewKeyRing("k2", testKey(2), map[string][]byte{"k1": testKey(1)})
		require.NoError(t, err)
		require.Equal(t, "k2", rotated.ActiveKeyID())
		require.Equal(t, []string{"k1", "k2"}, rotated.KeyIDs())

		got, err := rotated.Decrypt(ct, keyID, []byte("ad"))
		require.NoError(t, err)
		require.Equal(t, "secret", string(got))
		got, err = rotated.Open(sealed, []byte("ad"))
		require.NoError(t, err)
		require.Equal(t, "sealed secret", string(got))
		require.True(t, rotated.NeedsRewrap(keyID))
		sealedID, err := SealedKeyID(sealed)
		require.NoError(t, err)
		require.True(t, rotated.NeedsRewrap(sealedID))

		newCT, newID, err := rotated.Rewrap(ct, keyID, []byte("ad"))
		require.NoError(t, err)
		require.Equal(t, "k2", newID)
		require.False(t, rotated.NeedsRewrap(newID))

		// Once k1 is dropped, only the re-wrapped ciphertext still opens.
		onlyNew, err := NewKeyRing("k2", testKey(2), nil)
		require.NoError(t, err)
		got, err = onlyNew.Decrypt(newCT, newID, []byte("ad"))
		require.NoError(t, err)
		require.Equal(t, "secret", string(got))
		_, err = onlyNew.Decrypt(ct, keyID, []byte("ad"))
		require.ErrorIs(t, err, ErrUnknownKey)
	})

	t.Run("NonceUniqueness", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		seen := make(map[string]struct{}, 10_000)
		for range 10_000 {
			ct, _, err := b.ring.Encrypt([]byte("same plaintext"), nil)
			require.NoError(t, err)
			nonce := string(ct[:nonceSize])
			_, dup := seen[nonce]
			require.False(t, dup, "nonce repeated")
			seen[nonce] = struct{}{}
		}
	})

	t.Run("SealFormat", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		sealed, err := b.ring.Seal([]byte("secret"), []byte("ad"))
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(sealed, "v1.k1."), sealed)
		require.NotContains(t, sealed, "=")
		got, err := b.ring.Open(sealed, []byte("ad"))
		require.NoError(t, err)
		require.Equal(t, "secret", string(got))
		_, err = b.ring.Open(sealed, []byte("other"))
		require.ErrorIs(t, err, ErrDecrypt)

		for _, bad := range []string{"", "v1.", "v1.k1", "v1..abc", "v2.k1.AAAA", "v1.k1.!!!!", "v1.k1.", "v1.k 1.AAAA", sealed + "="} {
			_, err := b.ring.Open(bad, []byte("ad"))
			require.ErrorIs(t, err, ErrDecrypt, "input %q", bad)
		}
	})

	t.Run("KeyIDWithDotSeals", func(t *testing.T) {
		t.Parallel()
		ring, err := NewKeyRing("2025.1", testKey(3), nil)
		require.NoError(t, err)
		sealed, err := ring.Seal([]byte("secret"), nil)
		require.NoError(t, err)
		id, err := SealedKeyID(sealed)
		require.NoError(t, err)
		require.Equal(t, "2025.1", id)
		got, err := ring.Open(sealed, nil)
		require.NoError(t, err)
		require.Equal(t, "secret", string(got))
	})

	t.Run("ErrorsNeverLeakSecrets", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ct, keyID, err := b.ring.Encrypt([]byte("topsecret"), nil)
		require.NoError(t, err)
		ct[len(ct)-1] ^= 1
		_, err = b.ring.Decrypt(ct, keyID, nil)
		require.Error(t, err)
		require.NotContains(t, err.Error(), "topsecret")

		badHex := strings.Repeat("ab", 31) + "zz"
		_, err = ParseKeyRing("k1", badHex, "")
		require.Error(t, err)
		require.NotContains(t, err.Error(), "abab")
		_, err = ParseKeyRing("k1", strings.Repeat("ab", 32), "k0:"+badHex)
		require.Error(t, err)
		require.NotContains(t, err.Error(), "abab")
	})
}

func TestNewKeyRing(t *testing.T) {
	t.Parallel()

	cases := []struct {
		name     string
		activeID string
		key      []byte
		previous map[string][]byte
		wantErr  string
	}{
		{name: "ShortKey", activeID: "k1", key: make([]byte, 16), wantErr: "must be 32 bytes"},
		{name: "LongKey", activeID: "k1", key: make([]byte, 33), wantErr: "must be 32 bytes"},
		{name: "NilKey", activeID: "k1", key: nil, wantErr: "must be 32 bytes"},
		{name: "EmptyActiveID", activeID: "", key: testKey(1), wantErr: "key id is empty"},
		{name: "ActiveIDWithColon", activeID: "k:1", key: testKey(1), wantErr: "printable ASCII"},
		{name: "ActiveIDWithSpace", activeID: "k 1", key: testKey(1), wantErr: "printable ASCII"},
		{name: "ActiveIDTooLong", activeID: strings.Repeat("k", 65), key: testKey(1), wantErr: "longer than"},
		{name: "ActiveInPrevious", activeID: "k1", key: testKey(1), previous: map[string][]byte{"k1": testKey(2)}, wantErr: "also listed"},
		{name: "EmptyPreviousID", activeID: "k1", key: testKey(1), previous: map[string][]byte{"": testKey(2)}, wantErr: "key id is empty"},
		{name: "ShortPreviousKey", activeID: "k1", key: testKey(1), previous: map[string][]byte{"k0": make([]byte, 31)}, wantErr: "must be 32 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ring, err := NewKeyRing(tc.activeID, tc.key, tc.previous)
			require.ErrorContains(t, err, tc.wantErr)
			require.Nil(t, ring)
		})
	}
}

func TestParseKeyRing(t *testing.T) {
	t.Parallel()

	hexKey := func(b byte) string { return hex.EncodeToString(testKey(b)) }

	t.Run("ActiveAndPrevious", func(t *testing.T) {
		t.Parallel()
		ring, err := ParseKeyRing("k3", hexKey(3), " k1:"+hexKey(1)+" , k2:"+strings.ToUpper(hexKey(2))+",")
		require.NoError(t, err)
		require.Equal(t, "k3", ring.ActiveKeyID())
		require.Equal(t, []string{"k1", "k2", "k3"}, ring.KeyIDs())

		old, err := NewKeyRing("k2", testKey(2), nil)
		require.NoError(t, err)
		sealed, err := old.Seal([]byte("v"), nil)
		require.NoError(t, err)
		got, err := ring.Open(sealed, nil)
		require.NoError(t, err)
		require.Equal(t, "v", string(got))
	})

	t.Run("NoPrevious", func(t *testing.T) {
		t.Parallel()
		ring, err := ParseKeyRing("k1", hexKey(1), "")
		require.NoError(t, err)
		require.Equal(t, []string{"k1"}, ring.KeyIDs())
	})

	for _, tc := range []struct {
		name, activeHex, previous, wantErr string
	}{
		{"ShortHex", hexKey(1)[:62], "", "64 hex characters"},
		{"NotHex", strings.Repeat("g", 64), "", "not valid hex"},
		{"PreviousWithoutColon", hexKey(1), "k0" + hexKey(2), "want id:hexkey"},
		{"PreviousBadHex", hexKey(1), "k0:1234", "64 hex characters"},
		{"PreviousTwice", hexKey(1), "k0:" + hexKey(2) + ",k0:" + hexKey(3), "listed twice"},
		{"PreviousIsActive", hexKey(1), "k1:" + hexKey(2), "also listed"},
		{"PreviousEmptyID", hexKey(1), ":" + hexKey(2), "key id is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseKeyRing("k1", tc.activeHex, tc.previous)
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func FuzzOpen(f *testing.F) {
	ring, err := NewKeyRing("k1", testKey(1), map[string][]byte{"k0": testKey(0)})
	require.NoError(f, err)
	valid, err := ring.Seal([]byte("hello"), []byte("ad"))
	require.NoError(f, err)
	f.Add(valid, []byte("ad"))
	f.Add("v1.k1.", []byte(nil))
	f.Add("v1.k0.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", []byte("x"))

	f.Fuzz(func(t *testing.T, sealed string, ad []byte) {
		plaintext, err := ring.Open(sealed, ad)
		if err != nil {
			require.Nil(t, plaintext)
			return
		}
		// Anything that opens must re-seal and open to the same plaintext.
		again, err := ring.Seal(plaintext, ad)
		require.NoError(t, err)
		got, err := ring.Open(again, ad)
		require.NoError(t, err)
		require.Equal(t, plaintext, got)
	})
}

func FuzzSealOpen(f *testing.F) {
	ring, err := NewKeyRing("k1", testKey(1), nil)
	require.NoError(f, err)
	f.Add([]byte("secret"), []byte("org:1:smtp_password"))
	f.Add([]byte{}, []byte{})

	f.Fuzz(func(t *testing.T, plaintext, ad []byte) {
		sealed, err := ring.Seal(plaintext, ad)
		require.NoError(t, err)
		got, err := ring.Open(sealed, ad)
		require.NoError(t, err)
		require.Equal(t, string(plaintext), string(got))
		_, err = ring.Open(sealed, append(bytes.Clone(ad), 0))
		require.ErrorIs(t, err, ErrDecrypt)
	})
}

func BenchmarkEncrypt(b *testing.B) {
	ring, err := NewKeyRing("k1", testKey(1), nil)
	require.NoError(b, err)
	plaintext := bytes.Repeat([]byte("p"), 64)
	ad := []byte("org:1:smtp_password")
	b.SetBytes(int64(len(plaintext)))
	for b.Loop() {
		if _, _, err := ring.Encrypt(plaintext, ad); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecrypt(b *testing.B) {
	ring, err := NewKeyRing("k1", testKey(1), nil)
	require.NoError(b, err)
	plaintext := bytes.Repeat([]byte("p"), 64)
	ad := []byte("org:1:smtp_password")
	ct, keyID, err := ring.Encrypt(plaintext, ad)
	require.NoError(b, err)
	b.SetBytes(int64(len(plaintext)))
	for b.Loop() {
		if _, err := ring.Decrypt(ct, keyID, ad); err != nil {
			b.Fatal(err)
		}
	}
}
