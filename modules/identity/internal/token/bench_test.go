package token_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/identity/internal/token"
)

func benchIssuer(b *testing.B, alg token.Algorithm, opts ...token.Option) (*token.Issuer, *fakeClock) {
	b.Helper()
	clock := newFakeClock()
	iss, err := token.NewIssuer(testIssuer, token.KeySet{Active: generateKey(b, alg)},
		append([]token.Option{token.WithClock(clock.Now)}, opts...)...)
	require.NoError(b, err)
	return iss, clock
}

func benchSign(b *testing.B, alg token.Algorithm) {
	iss, clock := benchIssuer(b, alg)
	c := fullClaims(clock.Now())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := iss.Sign(token.TypeManagement, c); err != nil {
			b.Fatal(err)
		}
	}
}

// benchVerifyUncached verifies one token with the cache off, so every
// iteration parses and checks the signature.
func benchVerifyUncached(b *testing.B, alg token.Algorithm) {
	iss, clock := benchIssuer(b, alg, token.WithCacheSize(0))
	raw, err := iss.Sign(token.TypeManagement, fullClaims(clock.Now()))
	require.NoError(b, err)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := iss.Verify(ctx, raw, token.TypeManagement, token.UseManagement); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignES256(b *testing.B) { benchSign(b, token.ES256) }

func BenchmarkSignRS256(b *testing.B) { benchSign(b, token.RS256) }

func BenchmarkVerifyES256Uncached(b *testing.B) { benchVerifyUncached(b, token.ES256) }

func BenchmarkVerifyRS256Uncached(b *testing.B) { benchVerifyUncached(b, token.RS256) }

// BenchmarkVerifyCached verifies a working set of cached tokens from all
// goroutines at once, as an API replica does.
func BenchmarkVerifyCached(b *testing.B) {
	iss, clock := benchIssuer(b, token.ES256)
	raws := make([]string, 1024)
	for n := range raws {
		c := fullClaims(clock.Now())
		c.ID = fmt.Sprintf("jti-%d", n)
		c.Audience = jwt.ClaimStrings{token.Audience("org-1", "")}
		raw, err := iss.Sign(token.TypeManagement, c)
		require.NoError(b, err)
		_, err = iss.Verify(context.Background(), raw, token.TypeManagement, token.UseManagement)
		require.NoError(b, err)
		raws[n] = raw
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		n := 0
		for pb.Next() {
			if _, err := iss.Verify(ctx, raws[n%len(raws)], token.TypeManagement, token.UseManagement, "org:org-1"); err != nil {
				b.Error(err)
				return
			}
			n++
		}
	})
}
