// Package crypto holds the small set of cryptographic helpers AuthOS uses
// everywhere: an AES-256-GCM KeyRing for tenant secrets at rest (spec §1.12,
// design §5), random tokens and codes, and SHA-256 token hashing with
// constant-time comparison.
//
// Ciphertexts produced by a KeyRing are a 12-byte random nonce followed by the
// GCM ciphertext and tag. Every ciphertext is tied to the id of the key that
// made it, either in a separate column (Encrypt/Decrypt) or inside a
// self-describing string (Seal/Open: "v1.<keyid>.<base64url>"), so the active
// key can rotate while older ciphertexts stay readable through the ring's
// previous keys until they are re-wrapped.
//
// Associated data binds a ciphertext to where it is stored, for example
// "org:<id>:smtp_password": a ciphertext copied into another row fails to
// decrypt there. Errors never contain plaintext or key material.
package crypto
