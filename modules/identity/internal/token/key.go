package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
)

// Algorithm is a JWS signing algorithm supported for AuthOS tokens.
type Algorithm string

// Supported algorithms. ES256 is the default; RS256 is kept for relying
// parties that cannot verify ECDSA.
const (
	// ES256 is ECDSA over P-256 with SHA-256.
	ES256 Algorithm = "ES256"
	// RS256 is RSASSA-PKCS1-v1_5 with SHA-256.
	RS256 Algorithm = "RS256"
)

// RSA key size bounds. Smaller keys are weak; larger ones make verification
// needlessly slow.
const (
	minRSABits = 2048
	maxRSABits = 8192
	// generatedRSABits is the size of keys made by GenerateKey.
	generatedRSABits = 2048
	// maxKIDLength bounds a key id, which travels in every token header.
	maxKIDLength = 256
)

// Key is one signing key of the key ring. Private is nil for a verify-only
// key. Keys are values; build them with [GenerateKey], [ParsePrivateKeyPEM] or
// [ParsePublicKeyPEM], or fill the fields directly (an HSM or KMS backed
// crypto.Signer works as Private) and let [NewIssuer] validate them.
type Key struct {
	// KID is the key id put in the token header and the JWKS.
	KID string
	// Algorithm is the only algorithm tokens under this key may use.
	Algorithm Algorithm
	// Private signs tokens; nil for a verify-only key. It must be an ECDSA
	// P-256 key for ES256 or an RSA key for RS256.
	Private crypto.Signer
	// Public verifies tokens: *ecdsa.PublicKey (P-256) or *rsa.PublicKey. It
	// may be left nil when Private is set.
	Public crypto.PublicKey
}

// GenerateKey makes a new private key for alg: a P-256 key for ES256, a
// 2048-bit RSA key for RS256. Its KID is the RFC 7638 thumbprint of the
// public key.
func GenerateKey(alg Algorithm) (Key, error) {
	var priv crypto.Signer
	switch alg {
	case ES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return Key{}, fmt.Errorf("generate ecdsa key: %w", err)
		}
		priv = k
	case RS256:
		k, err := rsa.GenerateKey(rand.Reader, generatedRSABits)
		if err != nil {
			return Key{}, fmt.Errorf("generate rsa key: %w", err)
		}
		priv = k
	default:
		return Key{}, fmt.Errorf("generate key: unsupported algorithm %q", alg)
	}
	return keyFromSigner(priv, "")
}

// ParsePrivateKeyPEM parses the first PEM block of pemBytes as a private key:
// PKCS#8 ("PRIVATE KEY"), SEC 1 ("EC PRIVATE KEY") or PKCS#1 ("RSA PRIVATE
// KEY"). The algorithm follows from the key type. RSA keys below 2048 bits
// and EC keys on curves other than P-256 are refused. An empty kid is
// replaced by the key's RFC 7638 thumbprint.
func ParsePrivateKeyPEM(pemBytes []byte, kid string) (Key, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return Key{}, errors.New("parse private key: no PEM block found")
	}
	var (
		parsed any
		err    error
	)
	switch block.Type {
	case "PRIVATE KEY":
		parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		parsed, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		parsed, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return Key{}, fmt.Errorf("parse private key: unsupported PEM block type %q", block.Type)
	}
	if err != nil {
		return Key{}, fmt.Errorf("parse private key: %w", err)
	}
	signer, ok := parsed.(crypto.Signer)
	if !ok {
		return Key{}, fmt.Errorf("parse private key: unsupported key type %T", parsed)
	}
	return keyFromSigner(signer, kid)
}

// ParsePublicKeyPEM parses the first PEM block of pemBytes as a PKIX ("PUBLIC
// KEY") public key and returns a verify-only Key. The same algorithm and size
// rules as [ParsePrivateKeyPEM] apply.
func ParsePublicKeyPEM(pemBytes []byte, kid string) (Key, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return Key{}, errors.New("parse public key: no PEM block found")
	}
	if block.Type != "PUBLIC KEY" {
		return Key{}, fmt.Errorf("parse public key: unsupported PEM block type %q", block.Type)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return Key{}, fmt.Errorf("parse public key: %w", err)
	}
	alg, err := algorithmFor(pub)
	if err != nil {
		return Key{}, fmt.Errorf("parse public key: %w", err)
	}
	k := Key{KID: kid, Algorithm: alg, Public: pub}
	if k.KID == "" {
		if k.KID, err = Thumbprint(pub); err != nil {
			return Key{}, fmt.Errorf("parse public key: %w", err)
		}
	}
	return k.normalize()
}

// PrivatePEM encodes the private key as a PKCS#8 PEM block. It fails for a
// verify-only key and for signers whose key material cannot be exported.
func (k Key) PrivatePEM() ([]byte, error) {
	if k.Private == nil {
		return nil, errors.New("encode private key: key is verify-only")
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.Private)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// PublicPEM encodes the public key as a PKIX PEM block.
func (k Key) PublicPEM() ([]byte, error) {
	pub := k.Public
	if pub == nil && k.Private != nil {
		pub = k.Private.Public()
	}
	if pub == nil {
		return nil, errors.New("encode public key: key has no public part")
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// Thumbprint returns the RFC 7638 JWK thumbprint of pub: the unpadded
// base64url SHA-256 of its canonical JWK. pub must be a P-256
// *ecdsa.PublicKey or an *rsa.PublicKey.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	var canonical []byte
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		x, y, err := ecCoordinates(p)
		if err != nil {
			return "", fmt.Errorf("thumbprint: %w", err)
		}
		// Members in lexicographic order, no whitespace (RFC 7638 §3.2).
		canonical = fmt.Appendf(nil, `{"crv":"P-256","kty":"EC","x":%q,"y":%q}`, b64(x), b64(y))
	case *rsa.PublicKey:
		if p.N == nil {
			return "", errors.New("thumbprint: rsa key has no modulus")
		}
		canonical = fmt.Appendf(nil, `{"e":%q,"kty":"RSA","n":%q}`,
			b64(big.NewInt(int64(p.E)).Bytes()), b64(p.N.Bytes()))
	default:
		return "", fmt.Errorf("thumbprint: unsupported key type %T", pub)
	}
	sum := sha256.Sum256(canonical)
	return b64(sum[:]), nil
}

// keyFromSigner builds a private Key for a parsed or generated signer.
func keyFromSigner(priv crypto.Signer, kid string) (Key, error) {
	pub := priv.Public()
	alg, err := algorithmFor(pub)
	if err != nil {
		return Key{}, err
	}
	if kid == "" {
		if kid, err = Thumbprint(pub); err != nil {
			return Key{}, err
		}
	}
	return Key{KID: kid, Algorithm: alg, Private: priv, Public: pub}.normalize()
}

// algorithmFor infers the algorithm of a public key and checks its strength.
func algorithmFor(pub crypto.PublicKey) (Algorithm, error) {
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		if p.Curve == nil || p.Curve.Params().Name != elliptic.P256().Params().Name {
			return "", errors.New("ecdsa key must use curve P-256")
		}
		return ES256, nil
	case *rsa.PublicKey:
		if p.N == nil {
			return "", errors.New("rsa key has no modulus")
		}
		if bits := p.N.BitLen(); bits < minRSABits || bits > maxRSABits {
			return "", fmt.Errorf("rsa key has %d bits, want %d to %d", bits, minRSABits, maxRSABits)
		}
		return RS256, nil
	default:
		return "", fmt.Errorf("unsupported key type %T", pub)
	}
}

// normalize checks that k is usable and fills Public from Private when it is
// missing.
func (k Key) normalize() (Key, error) {
	if k.KID == "" {
		return Key{}, errors.New("key has no kid")
	}
	if len(k.KID) > maxKIDLength {
		return Key{}, fmt.Errorf("key id is longer than %d bytes", maxKIDLength)
	}
	if k.Public == nil {
		if k.Private == nil {
			return Key{}, fmt.Errorf("key %q has neither a public nor a private key", k.KID)
		}
		k.Public = k.Private.Public()
	}
	alg, err := algorithmFor(k.Public)
	if err != nil {
		return Key{}, fmt.Errorf("key %q: %w", k.KID, err)
	}
	if k.Algorithm != alg {
		return Key{}, fmt.Errorf("key %q: algorithm %q does not match its %s key", k.KID, k.Algorithm, alg)
	}
	if k.Private != nil {
		eq, ok := k.Public.(interface{ Equal(x crypto.PublicKey) bool })
		if !ok || !eq.Equal(k.Private.Public()) {
			return Key{}, fmt.Errorf("key %q: private key does not match the public key", k.KID)
		}
	}
	return k, nil
}

// ecCoordinates returns the fixed-size x and y coordinates of a P-256 key.
func ecCoordinates(p *ecdsa.PublicKey) (x, y []byte, err error) {
	if _, err := algorithmFor(p); err != nil {
		return nil, nil, err
	}
	raw, err := p.Bytes()
	if err != nil {
		return nil, nil, fmt.Errorf("encode ecdsa point: %w", err)
	}
	// Uncompressed point: 0x04 || X (32 bytes) || Y (32 bytes).
	const size = 32
	if len(raw) != 1+2*size {
		return nil, nil, fmt.Errorf("encode ecdsa point: unexpected length %d", len(raw))
	}
	return raw[1 : 1+size], raw[1+size:], nil
}

// jwk is the public JSON Web Key of one key, as published in the JWKS.
type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
}

// publicJWK returns the public JWK of k; it never carries private members.
func (k Key) publicJWK() (jwk, error) {
	out := jwk{Use: "sig", Alg: string(k.Algorithm), Kid: k.KID}
	switch p := k.Public.(type) {
	case *ecdsa.PublicKey:
		x, y, err := ecCoordinates(p)
		if err != nil {
			return jwk{}, err
		}
		out.Kty, out.Crv, out.X, out.Y = "EC", "P-256", b64(x), b64(y)
	case *rsa.PublicKey:
		out.Kty, out.N, out.E = "RSA", b64(p.N.Bytes()), b64(big.NewInt(int64(p.E)).Bytes())
	default:
		return jwk{}, fmt.Errorf("unsupported key type %T", k.Public)
	}
	return out, nil
}

// marshalJWKS encodes keys as a JWK set, in order.
func marshalJWKS(keys []Key) ([]byte, error) {
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: make([]jwk, 0, len(keys))}
	for _, k := range keys {
		j, err := k.publicJWK()
		if err != nil {
			return nil, fmt.Errorf("encode jwk %q: %w", k.KID, err)
		}
		set.Keys = append(set.Keys, j)
	}
	return json.Marshal(set)
}

// b64 is unpadded base64url, the JOSE encoding.
func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
