package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// KeySize is the length in bytes of every KeyRing key (AES-256).
const KeySize = 32

const (
	nonceSize   = 12
	tagSize     = 16
	maxKeyIDLen = 64
	sealPrefix  = "v1."
)

// ErrUnknownKey is returned when a ciphertext names a key id the ring does
// not hold (neither the active key nor a previous one).
var ErrUnknownKey = errors.New("unknown encryption key id")

// ErrDecrypt is returned when a ciphertext cannot be opened: it is malformed,
// truncated, was tampered with, was made under another key, or its associated
// data differs from the one given.
var ErrDecrypt = errors.New("decrypt: message authentication failed")

// KeyRing encrypts under one active AES-256-GCM key and decrypts under the
// active key or any previous key, selected by the key id stored with each
// ciphertext. A KeyRing is immutable and safe for concurrent use.
type KeyRing struct {
	activeID string
	aeads    map[string]cipher.AEAD
}

// NewKeyRing builds a ring from the active key and the previous keys still
// accepted for decryption. Every key must be exactly 32 bytes. Key ids must be
// non-empty, at most 64 printable ASCII characters, without spaces, ':' or
// ','; the active id must not also appear in previous. The key bytes are not
// retained beyond the expanded cipher state.
func NewKeyRing(activeID string, activeKey []byte, previous map[string][]byte) (*KeyRing, error) {
	if err := validateKeyID(activeID); err != nil {
		return nil, fmt.Errorf("active key: %w", err)
	}
	if _, dup := previous[activeID]; dup {
		return nil, fmt.Errorf("active key id %q also listed as a previous key", activeID)
	}
	k := &KeyRing{activeID: activeID, aeads: make(map[string]cipher.AEAD, len(previous)+1)}
	aead, err := newAEAD(activeKey)
	if err != nil {
		return nil, fmt.Errorf("active key %q: %w", activeID, err)
	}
	k.aeads[activeID] = aead
	for id, key := range previous {
		if err := validateKeyID(id); err != nil {
			return nil, fmt.Errorf("previous key: %w", err)
		}
		aead, err := newAEAD(key)
		if err != nil {
			return nil, fmt.Errorf("previous key %q: %w", id, err)
		}
		k.aeads[id] = aead
	}
	return k, nil
}

// ParseKeyRing builds a ring from configuration strings: the active key as 64
// hex characters and previousSpec as comma-separated "id:hex" pairs (empty for
// none; spaces around items are ignored). Errors name the offending key id but
// never echo key material.
func ParseKeyRing(activeID, activeHex, previousSpec string) (*KeyRing, error) {
	active, err := decodeHexKey(activeHex)
	if err != nil {
		return nil, fmt.Errorf("active key %q: %w", activeID, err)
	}
	previous := map[string][]byte{}
	for i, item := range strings.Split(previousSpec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		id, hexKey, ok := strings.Cut(item, ":")
		if !ok {
			return nil, fmt.Errorf("previous key #%d: want id:hexkey", i+1)
		}
		id = strings.TrimSpace(id)
		if _, dup := previous[id]; dup {
			return nil, fmt.Errorf("previous key %q listed twice", id)
		}
		key, err := decodeHexKey(strings.TrimSpace(hexKey))
		if err != nil {
			return nil, fmt.Errorf("previous key %q: %w", id, err)
		}
		previous[id] = key
	}
	return NewKeyRing(activeID, active, previous)
}

// ActiveKeyID returns the id of the key new ciphertexts are made under.
func (k *KeyRing) ActiveKeyID() string { return k.activeID }

// KeyIDs returns the ids of every key in the ring, sorted, active included.
func (k *KeyRing) KeyIDs() []string {
	ids := make([]string, 0, len(k.aeads))
	for id := range k.aeads {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// NeedsRewrap reports whether a ciphertext stored with keyID should be
// re-encrypted under the active key (it was made under any other key).
func (k *KeyRing) NeedsRewrap(keyID string) bool { return keyID != k.activeID }

// Encrypt seals plaintext under the active key, binding it to
// associatedData (which may be nil but must be given again to Decrypt). It
// returns nonce ‖ ciphertext ‖ tag and the id of the key used; store both.
func (k *KeyRing) Encrypt(plaintext, associatedData []byte) (ciphertext []byte, keyID string, err error) {
	aead := k.aeads[k.activeID]
	out := make([]byte, nonceSize, nonceSize+len(plaintext)+tagSize)
	copy(out, RandomBytes(nonceSize))
	return aead.Seal(out, out[:nonceSize], plaintext, associatedData), k.activeID, nil
}

// Decrypt opens a ciphertext made by Encrypt under the key keyID. It returns
// ErrUnknownKey when the ring lacks keyID and ErrDecrypt for any other
// failure, including a wrong associatedData.
func (k *KeyRing) Decrypt(ciphertext []byte, keyID string, associatedData []byte) ([]byte, error) {
	aead, ok := k.aeads[keyID]
	if !ok {
		return nil, ErrUnknownKey
	}
	if len(ciphertext) < nonceSize+tagSize {
		return nil, ErrDecrypt
	}
	plaintext, err := aead.Open(nil, ciphertext[:nonceSize], ciphertext[nonceSize:], associatedData)
	if err != nil {
		return nil, ErrDecrypt
	}
	return plaintext, nil
}

// EncryptString is Encrypt for string plaintext and associated data.
func (k *KeyRing) EncryptString(plaintext, associatedData string) (ciphertext []byte, keyID string, err error) {
	return k.Encrypt([]byte(plaintext), []byte(associatedData))
}

// DecryptString is Decrypt returning a string.
func (k *KeyRing) DecryptString(ciphertext []byte, keyID, associatedData string) (string, error) {
	plaintext, err := k.Decrypt(ciphertext, keyID, []byte(associatedData))
	if err != nil {
		return "", err
	}
	return string(plaintext), nil
}

// Rewrap decrypts a ciphertext stored under keyID and encrypts it again under
// the active key with the same associated data. Callers store the returned
// ciphertext and key id in place of the old ones.
func (k *KeyRing) Rewrap(ciphertext []byte, keyID string, associatedData []byte) (newCiphertext []byte, newKeyID string, err error) {
	plaintext, err := k.Decrypt(ciphertext, keyID, associatedData)
	if err != nil {
		return nil, "", err
	}
	return k.Encrypt(plaintext, associatedData)
}

// Seal encrypts plaintext under the active key into the self-describing text
// form "v1.<keyid>.<base64url(nonce‖ciphertext‖tag)>" (unpadded base64url),
// for columns that hold a single string.
func (k *KeyRing) Seal(plaintext, associatedData []byte) (string, error) {
	ciphertext, keyID, err := k.Encrypt(plaintext, associatedData)
	if err != nil {
		return "", err
	}
	return sealPrefix + keyID + "." + base64.RawURLEncoding.EncodeToString(ciphertext), nil
}

// Open decrypts a string made by Seal. It returns ErrUnknownKey when the key
// id is not in the ring and ErrDecrypt when the string is malformed or fails
// authentication.
func (k *KeyRing) Open(sealed string, associatedData []byte) ([]byte, error) {
	keyID, body, err := splitSealed(sealed)
	if err != nil {
		return nil, err
	}
	ciphertext, err := base64.RawURLEncoding.Strict().DecodeString(body)
	if err != nil {
		return nil, ErrDecrypt
	}
	return k.Decrypt(ciphertext, keyID, associatedData)
}

// SealedKeyID returns the key id recorded in a string made by Seal, so a
// re-wrap job can decide with NeedsRewrap without decrypting. It returns
// ErrDecrypt when the string is not in the sealed form.
func SealedKeyID(sealed string) (string, error) {
	keyID, _, err := splitSealed(sealed)
	return keyID, err
}

func splitSealed(sealed string) (keyID, body string, err error) {
	rest, ok := strings.CutPrefix(sealed, sealPrefix)
	if !ok {
		return "", "", ErrDecrypt
	}
	// Base64url never contains '.', so the last dot ends the key id.
	i := strings.LastIndexByte(rest, '.')
	if i <= 0 {
		return "", "", ErrDecrypt
	}
	keyID, body = rest[:i], rest[i+1:]
	if validateKeyID(keyID) != nil {
		return "", "", ErrDecrypt
	}
	return keyID, body, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("new cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("new gcm: %w", err)
	}
	return aead, nil
}

func decodeHexKey(s string) ([]byte, error) {
	if len(s) != 2*KeySize {
		return nil, fmt.Errorf("key must be %d hex characters, got %d", 2*KeySize, len(s))
	}
	key, err := hex.DecodeString(s)
	if err != nil {
		// hex errors quote the offending byte; keep key material out.
		return nil, errors.New("key is not valid hex")
	}
	return key, nil
}

func validateKeyID(id string) error {
	if id == "" {
		return errors.New("key id is empty")
	}
	if len(id) > maxKeyIDLen {
		return fmt.Errorf("key id longer than %d characters", maxKeyIDLen)
	}
	for i := range len(id) {
		c := id[i]
		if c <= ' ' || c >= 0x7f || c == ':' || c == ',' {
			return fmt.Errorf("key id %q: only printable ASCII without spaces, ':' or ','", id)
		}
	}
	return nil
}
