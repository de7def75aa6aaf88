// Package password hashes, verifies and vets user passwords.
//
// Hashing uses Argon2id (RFC 9106) and stores the result as a PHC string,
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//
// with salt and hash in standard base64 without padding. The default cost
// is the OWASP recommendation (m=19 MiB, t=2, p=1); operators may configure
// other parameters, and [Hasher.Verify] reports needsRehash when a stored
// hash was made with parameters other than the hasher's, so the login path
// can upgrade it while it holds the plaintext.
//
// Argon2id is memory-hard on purpose, so a [Hasher] bounds how many
// computations run at once with a semaphore: peak memory is about
// maxConcurrent × m. Callers waiting for a slot give up when their context
// ends. Parameters read from stored hashes are checked against the same
// upper bounds as configured ones (m ≤ 1 GiB, t ≤ 100, p ≤ 64), so a
// tampered or corrupt hash cannot make a verification arbitrarily
// expensive.
//
// For unknown users, [Hasher.DummyVerify] performs a verification of the
// same cost against a hash computed once in [NewHasher], so login response
// times do not reveal whether an account exists.
//
// # Password policy
//
// [Validate] enforces the product rules: 8 to 128 characters (counted as
// Unicode code points, never truncated) and not one of a built-in list of
// very common passwords (compared case-insensitively).
//
// The list, common.txt, is a curated list of very common passwords, not a
// breach corpus. It was assembled by hand from the entries that recur at the
// top of widely published most-common-password rankings (123456, password,
// qwerty, iloveyou, dragon, monkey, letmein, trustno1, 1qaz2wsx, …) and then
// extended with the systematic variants people pick to satisfy length and
// composition rules: those words followed by common suffixes (1, 12, 123,
// 1234, !, 123!, 01, 69, @123, a year), keyboard walks (qwertyui, asdfghjk,
// 1q2w3e4r5t, qazwsxedc), digit runs and repeats (12345678, 87654321,
// 11111111), seasons and years (summer2024, winter2025!), password/welcome/
// admin with years 2015–2027, and leet spellings (p@ssw0rd, pa55word). It is
// stored lowercase, one entry per line, sorted and without duplicates. Most
// entries are at least 8 characters long, since shorter passwords are
// refused by the length rule before the list is consulted; a handful of
// classic short ones stay so that [IsCommon] is meaningful on its own.
package password
