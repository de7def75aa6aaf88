package identity_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/identity"
	"github.com/authos/authos/platform/httpapi"
)

func TestRefresh(t *testing.T) {
	t.Parallel()

	// loggedIn returns a bundle with a verified user and one session.
	loggedIn := func(t *testing.T) (*testBundle, identity.User, tokenPair) {
		t.Helper()
		b := setup(t)
		u := b.verifiedUser(t, "ada@example.test", goodPassword)
		return b, u, b.login(t, "ada@example.test", goodPassword)
	}

	t.Run("RotatesTokensAndRetiresThePreviousOnes", func(t *testing.T) {
		t.Parallel()
		b, u, first := loggedIn(t)
		b.clock.Advance(time.Minute)

		r := b.refresh(t, first.RefreshToken)
		second := decodeTokens(t, r)
		require.Equal(t, "no-store", r.header.Get("Cache-Control"))
		require.Equal(t, 86400, second.ExpiresIn)
		require.NotEqual(t, first.AccessToken, second.AccessToken)
		require.NotEqual(t, first.RefreshToken, second.RefreshToken)

		// Same session and claims, new jti and times.
		_, c1 := decodeJWT(t, first.AccessToken)
		_, c2 := decodeJWT(t, second.AccessToken)
		require.Equal(t, c1["sid"], c2["sid"])
		require.Equal(t, u.ID.String(), c2["sub"])
		require.Equal(t, c1["aud"], c2["aud"])
		require.NotEqual(t, c1["jti"], c2["jti"])

		b.requireTokenRejected(t, first.AccessToken)
		b.requireTokenWorks(t, second.AccessToken)
		requireProblem(t, b.refresh(t, first.RefreshToken), http.StatusUnauthorized, httpapi.CodeUnauthorized, msgInvalidRefresh)
		// Within the grace period the replay is a lost race: the session lives.
		b.requireTokenWorks(t, second.AccessToken)
		third := decodeTokens(t, b.refresh(t, second.RefreshToken))
		b.requireTokenWorks(t, third.AccessToken)
		require.Empty(t, b.events.ofType("user.login.failed"))
	})

	t.Run("ConcurrentRefreshesWithOneTokenHaveOneWinner", func(t *testing.T) {
		t.Parallel()
		b, _, first := loggedIn(t)
		const n = 10
		results := make([]response, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				results[i] = b.refresh(t, first.RefreshToken)
			})
		}
		close(start)
		wg.Wait()

		var winner tokenPair
		wins := 0
		for _, r := range results {
			if r.status == http.StatusOK {
				wins++
				winner = decodeTokens(t, r)
				continue
			}
			requireProblem(t, r, http.StatusUnauthorized, httpapi.CodeUnauthorized, msgInvalidRefresh)
		}
		require.Equal(t, 1, wins)
		b.requireTokenWorks(t, winner.AccessToken)
		next := decodeTokens(t, b.refresh(t, winner.RefreshToken))
		b.requireTokenWorks(t, next.AccessToken)
		require.Empty(t, b.events.ofType("user.login.failed"))
	})

	t.Run("ReuseAfterGraceRevokesTheWholeSession", func(t *testing.T) {
		t.Parallel()
		b, u, first := loggedIn(t)
		second := decodeTokens(t, b.refresh(t, first.RefreshToken))
		b.clock.Advance(identity.DefaultRefreshGrace + time.Second)

		requireProblem(t, b.refresh(t, first.RefreshToken), http.StatusUnauthorized, httpapi.CodeUnauthorized, msgInvalidRefresh)
		b.requireTokenRejected(t, second.AccessToken)
		requireProblem(t, b.refresh(t, second.RefreshToken), http.StatusUnauthorized, httpapi.CodeUnauthorized, msgInvalidRefresh)

		sid := sessionID(t, first.AccessToken)
		require.Equal(t, "refresh_token_reuse", b.revokedReason(t, sid))
		failed := b.events.ofType("user.login.failed")
		require.Len(t, failed, 1)
		require.Equal(t, u.ID, *failed[0].ActorID)
		require.Equal(t, "session", failed[0].TargetType)
		require.Equal(t, sid.String(), failed[0].TargetID)
		require.Equal(t, "refresh_token_reuse", failed[0].Details["reason"])
		require.False(t, failed[0].Succeeded())

		// Other sessions of the account are not touched.
		other := b.login(t, "ada@example.test", goodPassword)
		b.requireTokenWorks(t, other.AccessToken)
	})

	t.Run("ExpiredRefreshToken", func(t *testing.T) {
		t.Parallel()
		b, _, first := loggedIn(t)
		b.clock.Advance(30 * 24 * time.Hour)
		requireProblem(t, b.refresh(t, first.RefreshToken), http.StatusUnauthorized, httpapi.CodeUnauthorized, "Refresh token expired")
	})

	t.Run("RefreshExtendsTheSlidingLifetime", func(t *testing.T) {
		t.Parallel()
		b, _, first := loggedIn(t)
		b.clock.Advance(29 * 24 * time.Hour)
		second := decodeTokens(t, b.refresh(t, first.RefreshToken))
		b.clock.Advance(29 * 24 * time.Hour)
		decodeTokens(t, b.refresh(t, second.RefreshToken))
	})

	for _, tc := range []struct {
		Name         string
		Body         any
		WantStatus   int
		WantCode     string
		WantMsg      string
		WantLocation string
	}{
		{Name: "Empty", Body: map[string]string{"refresh_token": ""}, WantStatus: 422, WantCode: httpapi.CodeValidationError, WantLocation: "body.refresh_token"},
		{Name: "Missing", Body: map[string]string{}, WantStatus: 422, WantCode: httpapi.CodeValidationError, WantLocation: "body"},
		{Name: "TooLong", Body: map[string]string{"refresh_token": strings.Repeat("a", 1001)}, WantStatus: 422, WantCode: httpapi.CodeValidationError, WantLocation: "body.refresh_token"},
		{Name: "Unknown", Body: map[string]string{"refresh_token": "unknown-token"}, WantStatus: 401, WantCode: httpapi.CodeUnauthorized, WantMsg: msgInvalidRefresh},
	} {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			p := requireProblem(t, b.post(t, "/api/auth/refresh", tc.Body), tc.WantStatus, tc.WantCode, tc.WantMsg)
			if tc.WantLocation != "" {
				require.Contains(t, p.locations(), tc.WantLocation)
			}
		})
	}
}

func TestLogout(t *testing.T) {
	t.Parallel()

	t.Run("RevokesTheCurrentSessionOnly", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u := b.verifiedUser(t, "ada@example.test", goodPassword)
		mine := b.login(t, "ada@example.test", goodPassword)
		other := b.login(t, "ada@example.test", goodPassword)

		requireMessage(t, b.post(t, "/api/auth/logout", nil, bearer(mine.AccessToken)), "Logged out successfully")
		b.requireTokenRejected(t, mine.AccessToken)
		requireProblem(t, b.refresh(t, mine.RefreshToken), http.StatusUnauthorized, httpapi.CodeUnauthorized, msgInvalidRefresh)
		require.Equal(t, "logout", b.revokedReason(t, sessionID(t, mine.AccessToken)))
		b.requireTokenWorks(t, other.AccessToken)

		logouts := b.events.ofType("user.logout")
		require.Len(t, logouts, 1, "logout must publish user.logout (spec §13.2)")
		require.Equal(t, u.ID, *logouts[0].ActorID)

		// Logging out twice is refused: the session is gone.
		requireProblem(t, b.post(t, "/api/auth/logout", nil, bearer(mine.AccessToken)), http.StatusUnauthorized, httpapi.CodeUnauthorized, msgSessionRevoked)
	})

	t.Run("RequiresABearerToken", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		requireProblem(t, b.post(t, "/api/auth/logout", nil), http.StatusUnauthorized, httpapi.CodeUnauthorized, "")
		requireProblem(t, b.post(t, "/api/auth/logout", nil, bearer("garbage")), http.StatusUnauthorized, "JWT_ERROR", "Invalid token")
	})
}

func TestRevoke(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		Name  string
		Token func(tokenPair) string
		Hint  string
	}{
		{Name: "RefreshToken", Token: func(tp tokenPair) string { return tp.RefreshToken }},
		{Name: "RefreshTokenWithWrongHint", Token: func(tp tokenPair) string { return tp.RefreshToken }, Hint: "access_token"},
		{Name: "AccessToken", Token: func(tp tokenPair) string { return tp.AccessToken }},
		{Name: "AccessTokenWithHint", Token: func(tp tokenPair) string { return tp.AccessToken }, Hint: "access_token"},
	} {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.verifiedUser(t, "ada@example.test", goodPassword)
			tp := b.login(t, "ada@example.test", goodPassword)
			other := b.login(t, "ada@example.test", goodPassword)

			form := url.Values{"token": {tc.Token(tp)}}
			if tc.Hint != "" {
				form.Set("token_type_hint", tc.Hint)
			}
			r := b.postForm(t, "/auth/revoke", form)
			require.Equal(t, http.StatusOK, r.status, string(r.body))

			b.requireTokenRejected(t, tp.AccessToken)
			requireProblem(t, b.refresh(t, tp.RefreshToken), http.StatusUnauthorized, httpapi.CodeUnauthorized, msgInvalidRefresh)
			require.Equal(t, "revoked", b.revokedReason(t, sessionID(t, tp.AccessToken)))
			b.requireTokenWorks(t, other.AccessToken)
		})
	}

	t.Run("AnswersOKForAnything", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.verifiedUser(t, "ada@example.test", goodPassword)
		tp := b.login(t, "ada@example.test", goodPassword)
		for _, form := range []url.Values{
			{"token": {"garbage"}},
			{"token": {""}},
			{"token_type_hint": {"refresh_token"}},
			{"token": {strings.Repeat("a", 9000)}},
			{"token": {"eyJhbGciOiJub25lIn0.e30."}, "token_type_hint": {"access_token"}},
		} {
			r := b.postForm(t, "/auth/revoke", form)
			require.Equal(t, http.StatusOK, r.status, string(r.body))
		}
		b.requireTokenWorks(t, tp.AccessToken)
	})
}

func TestRedisDataLoss(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.verifiedUser(t, "ada@example.test", goodPassword)
	live := b.login(t, "ada@example.test", goodPassword)
	gone := b.login(t, "ada@example.test", goodPassword)
	b.requireTokenWorks(t, live.AccessToken)
	requireMessage(t, b.post(t, "/api/auth/logout", nil, bearer(gone.AccessToken)), "Logged out successfully")
	refreshed := decodeTokens(t, b.refresh(t, live.RefreshToken))

	b.flushRedis(t)

	// PostgreSQL is the truth: nobody is logged out or let back in.
	b.requireTokenWorks(t, refreshed.AccessToken)
	b.requireTokenRejected(t, gone.AccessToken)
	b.requireTokenRejected(t, live.AccessToken)

	// The fallback re-cached both states.
	b.requireTokenWorks(t, refreshed.AccessToken)
	b.requireTokenRejected(t, gone.AccessToken)
	keys, err := b.rdb.Keys(t.Context(), b.prefix+"sess:*").Result()
	require.NoError(t, err)
	require.Len(t, keys, 2)
}
