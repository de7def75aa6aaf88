package crypto

import (
	"testing"
)

func TestZZGen(t *testing.T) {
	ring, _ := NewKeyRing("k1", testKey(1), map[string][]byte{"k0": testKey(0)})
	s, _ := ring.Seal([]byte("hello"), []byte("ad"))
	t.Log(s)
	old, _ := NewKeyRing("k0", testKey(0), nil)
	s, _ = old.Seal([]byte("smtp-password"), []byte("org:1:smtp_password"))
	t.Log(s)
}
