package token_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/identity/internal/token"
)

func TestGenerateKey(t *testing.T) {
	t.Parallel()

	t.Run("ES256", func(t *testing.T) {
		t.Parallel()
		k := generateKey(t, token.ES256)
		require.Equal(t, token.ES256, k.Algorithm)
		priv, ok := k.Private.(*ecdsa.PrivateKey)
		require.True(t, ok)
		require.Equal(t, "P-256", priv.Curve.Params().Name)
		thumb, err := token.Thumbprint(k.Public)
		require.NoError(t, err)
		require.Equal(t, thumb, k.KID)
		require.Len(t, k.KID, 43)
	})

	t.Run("RS256", func(t *testing.T) {
		t.Parallel()
		k := generateKey(t, token.RS256)
		require.Equal(t, token.RS256, k.Algorithm)
		priv, ok := k.Private.(*rsa.PrivateKey)
		require.True(t, ok)
		require.Equal(t, 2048, priv.N.BitLen())
		thumb, err := token.Thumbprint(k.Public)
		require.NoError(t, err)
		require.Equal(t, thumb, k.KID)
	})

	t.Run("DistinctKIDs", func(t *testing.T) {
		t.Parallel()
		require.NotEqual(t, generateKey(t, token.ES256).KID, generateKey(t, token.ES256).KID)
	})

	t.Run("UnsupportedAlgorithm", func(t *testing.T) {
		t.Parallel()
		_, err := token.GenerateKey("HS256")
		require.Error(t, err)
	})
}

func TestKeyPEMRoundTrip(t *testing.T) {
	t.Parallel()

	for _, alg := range []token.Algorithm{token.ES256, token.RS256} {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			k := generateKey(t, alg)

			privPEM, err := k.PrivatePEM()
			require.NoError(t, err)
			require.Contains(t, string(privPEM), "-----BEGIN PRIVATE KEY-----")
			back, err := token.ParsePrivateKeyPEM(privPEM, "")
			require.NoError(t, err)
			require.Equal(t, k.KID, back.KID)
			require.Equal(t, alg, back.Algorithm)
			require.True(t, back.Public.(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Public))
			named, err := token.ParsePrivateKeyPEM(privPEM, "custom-kid")
			require.NoError(t, err)
			require.Equal(t, "custom-kid", named.KID)

			pubPEM, err := k.PublicPEM()
			require.NoError(t, err)
			require.Contains(t, string(pubPEM), "-----BEGIN PUBLIC KEY-----")
			pub, err := token.ParsePublicKeyPEM(pubPEM, "")
			require.NoError(t, err)
			require.Nil(t, pub.Private)
			require.Equal(t, k.KID, pub.KID)
			require.Equal(t, alg, pub.Algorithm)
			_, err = pub.PrivatePEM()
			require.Error(t, err)
			again, err := pub.PublicPEM()
			require.NoError(t, err)
			require.Equal(t, pubPEM, again)
		})
	}
}

func TestParsePrivateKeyPEMFormats(t *testing.T) {
	t.Parallel()

	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	sec1, err := x509.MarshalECPrivateKey(ec)
	require.NoError(t, err)
	k, err := token.ParsePrivateKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}), "ec")
	require.NoError(t, err)
	require.Equal(t, token.ES256, k.Algorithm)
	require.True(t, ec.PublicKey.Equal(k.Public))

	rs, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	pkcs1 := x509.MarshalPKCS1PrivateKey(rs)
	k, err = token.ParsePrivateKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: pkcs1}), "rsa")
	require.NoError(t, err)
	require.Equal(t, token.RS256, k.Algorithm)
	require.True(t, rs.PublicKey.Equal(k.Public))
}

func TestParseKeyPEMRejects(t *testing.T) {
	t.Parallel()

	weakRSA, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	_, edPriv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	good := generateKey(t, token.ES256)
	goodPriv, err := good.PrivatePEM()
	require.NoError(t, err)
	goodPub := mustPublicPEM(t, good)

	pkcs8 := func(key any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		require.NoError(t, err)
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	pkix := func(key any) []byte {
		der, err := x509.MarshalPKIXPublicKey(key)
		require.NoError(t, err)
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}

	t.Run("Private", func(t *testing.T) {
		t.Parallel()
		for name, in := range map[string][]byte{
			"WeakRSA":        pkcs8(weakRSA),
			"WeakRSAPKCS1":   pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(weakRSA)}),
			"P384":           pkcs8(p384),
			"Ed25519":        pkcs8(edPriv),
			"NotPEM":         []byte("not a pem"),
			"Empty":          nil,
			"PublicKeyBlock": goodPub,
			"CorruptDER":     pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0x30, 0x01, 0x00}}),
			"Certificate":    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30}}),
		} {
			_, err := token.ParsePrivateKeyPEM(in, "")
			require.Error(t, err, name)
		}
	})

	t.Run("Public", func(t *testing.T) {
		t.Parallel()
		for name, in := range map[string][]byte{
			"WeakRSA":         pkix(&weakRSA.PublicKey),
			"P384":            pkix(&p384.PublicKey),
			"Ed25519":         pkix(edPriv.Public()),
			"NotPEM":          []byte("not a pem"),
			"PrivateKeyBlock": goodPriv,
			"CorruptDER":      pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{0x30, 0x01, 0x00}}),
		} {
			_, err := token.ParsePublicKeyPEM(in, "")
			require.Error(t, err, name)
		}
	})

	t.Run("Thumbprint", func(t *testing.T) {
		t.Parallel()
		_, err := token.Thumbprint(&p384.PublicKey)
		require.Error(t, err)
		_, err = token.Thumbprint(edPriv.Public())
		require.Error(t, err)
	})
}

func TestThumbprintRFC7638(t *testing.T) {
	t.Parallel()

	// RFC 7638 §3.1: the RSA key of RFC 7517 Appendix A.1 and its thumbprint.
	const n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(b64decode(t, n)), E: 65537}
	got, err := token.Thumbprint(pub)
	require.NoError(t, err)
	require.Equal(t, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", got)
}
