package password

import (
	_ "embed"
	"strings"
	"sync"
	"unicode/utf8"
)

// Length limits of the password policy, in characters (Unicode code points).
const (
	MinLength = 8
	MaxLength = 128
)

// PolicyError is a password that breaks the password policy. Its message is
// written for end users and may be returned in an API response as is.
type PolicyError struct {
	message string
}

// Error returns the user-facing message.
func (e *PolicyError) Error() string {
	return e.message
}

// Policy violations returned by [Validate]. Match them with errors.Is, or
// all of them with errors.As and a *[PolicyError].
var (
	// ErrTooShort is a password of fewer than MinLength characters.
	ErrTooShort = &PolicyError{message: "Password must be at least 8 characters"}
	// ErrTooLong is a password of more than MaxLength characters.
	ErrTooLong = &PolicyError{message: "Password must be at most 128 characters"}
	// ErrTooCommon is a password on the built-in list of common passwords.
	ErrTooCommon = &PolicyError{message: "This password is too common. Please choose a different one."}
)

// Validate checks password against the policy: MinLength to MaxLength
// characters, counted as Unicode code points (a password is never
// truncated), and not a common password (see [IsCommon]). It returns
// ErrTooShort, ErrTooLong or ErrTooCommon, or nil.
func Validate(password string) error {
	n := utf8.RuneCountInString(password)
	switch {
	case n < MinLength:
		return ErrTooShort
	case n > MaxLength:
		return ErrTooLong
	case IsCommon(password):
		return ErrTooCommon
	}
	return nil
}

// IsCommon reports whether password, compared case-insensitively, is on the
// built-in list of very common passwords (common.txt; see the package
// documentation for how it was built).
func IsCommon(password string) bool {
	_, ok := commonSet()[strings.ToLower(password)]
	return ok
}

//go:embed common.txt
var commonList string

// commonSet builds the lookup set from commonList on first use. The map is
// never written after it is built.
var commonSet = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, strings.Count(commonList, "\n")+1)
	for line := range strings.Lines(commonList) {
		if p := strings.TrimRight(line, "\r\n"); p != "" {
			set[p] = struct{}{}
		}
	}
	return set
})
