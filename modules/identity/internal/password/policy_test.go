package password

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestValidate(t *testing.T) {
	t.Parallel()

	cases := []struct {
		name     string
		password string
		want     error
	}{
		{"Empty", "", ErrTooShort},
		{"SevenChars", "xk4#vq9", ErrTooShort},
		{"EightChars", "xk4#vq9z", nil},
		{"MaxLength", strings.Repeat("xk4#", 32), nil},
		{"OverMaxLength", strings.Repeat("xk4#", 32) + "z", ErrTooLong},
		{"MuchTooLongIsNotTruncated", strings.Repeat("xk4#vq9z", 1000), ErrTooLong},
		{"PassphraseWithSpaces", "correct horse battery staple", nil},
		// Seven runes but 21 bytes: characters are counted, not bytes.
		{"SevenMultibyteRunes", "日本語パスワー", ErrTooShort},
		{"EightMultibyteRunes", "日本語パスワード", nil},
		{"EightEmoji", "🔑🔒🗝️🔐🔓🛡️", nil},
		{"MaxLengthMultibyte", strings.Repeat("é", 128), nil},
		{"OverMaxLengthMultibyte", strings.Repeat("é", 129), ErrTooLong},
		{"Common", "password", ErrTooCommon},
		{"CommonMixedCase", "Password123", ErrTooCommon},
		{"CommonUpperCase", "QWERTYUIOP", ErrTooCommon},
		{"CommonLeet", "P@ssw0rd", ErrTooCommon},
		{"CommonSeasonYear", "Summer2024!", ErrTooCommon},
		{"CommonDigits", "12345678", ErrTooCommon},
		{"CommonKeyboardWalk", "1q2w3e4r5t", ErrTooCommon},
		{"CommonButTooShortIsTooShort", "123456", ErrTooShort},
		{"UncommonVariant", "password-is-long-enough", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			err := Validate(tc.password)
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
		})
	}

	t.Run("MultibyteCountsRunes", func(t *testing.T) {
		t.Parallel()

		pw := "日本語パスワー"
		require.Greater(t, len(pw), MinLength, "fixture must be long in bytes")
		require.Equal(t, MinLength-1, utf8.RuneCountInString(pw))
	})
}

func TestPolicyError(t *testing.T) {
	t.Parallel()

	require.EqualError(t, ErrTooShort, "Password must be at least 8 characters")
	require.EqualError(t, ErrTooLong, "Password must be at most 128 characters")
	require.EqualError(t, ErrTooCommon, "This password is too common. Please choose a different one.")

	var pe *PolicyError
	require.ErrorAs(t, Validate("short"), &pe)
	require.Same(t, ErrTooShort, pe)
	require.NotErrorIs(t, ErrTooShort, ErrTooLong)
}

func TestIsCommon(t *testing.T) {
	t.Parallel()

	for _, pw := range []string{"123456", "password", "PASSWORD", "Password123", "iloveyou", "trustno1", "qwerty123", "Winter2025", "letmein!", "11111111", "admin@123"} {
		require.True(t, IsCommon(pw), pw)
	}
	for _, pw := range []string{"", "correct horse battery staple", "xk4#vq9z", "password ", " password", "passwordd"} {
		require.False(t, IsCommon(pw), pw)
	}
}

func TestCommonList(t *testing.T) {
	t.Parallel()

	lines := strings.Split(strings.TrimSuffix(commonList, "\n"), "\n")
	require.Len(t, commonSet(), len(lines), "no duplicates")

	long := 0
	prev := ""
	for i, line := range lines {
		require.NotEmpty(t, line, "line %d", i+1)
		require.Equal(t, strings.TrimSpace(line), line, "line %d has surrounding space", i+1)
		require.Equal(t, strings.ToLower(line), line, "line %d is not lowercase", i+1)
		require.True(t, utf8.ValidString(line), "line %d", i+1)
		require.LessOrEqual(t, utf8.RuneCountInString(line), MaxLength, "line %d", i+1)
		require.Greater(t, line, prev, "line %d is out of order", i+1)
		prev = line
		if utf8.RuneCountInString(line) >= MinLength {
			long++
		}
	}
	require.GreaterOrEqual(t, long, 800, "entries a valid-length password can match")
}
