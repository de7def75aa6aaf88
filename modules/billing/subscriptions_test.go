package billing_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/modules/billing"
	"github.com/authos/authos/platform/httpapi"
)

const (
	msgSubscriptionNotFound = "Subscription not found for this user"
	msgUserNotFound         = "User not found or has not authenticated with this service"
)

func ptr[T any](v T) *T { return &v }

func TestServiceSubscriptionsAuth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.subscribe(t, keyAll, map[string]any{"user_id": b.ada, "plan_id": b.proA1})
	one := "/api/service/subscriptions/" + b.ada.String()
	post := map[string]any{"user_id": b.bob, "plan_id": b.proA1}
	endpoints := []struct {
		name, method, path string
		body               any
		perm, lacking      string
	}{
		{"List", http.MethodGet, "/api/service/subscriptions", nil, "read:subscriptions", keyWrite},
		{"Get", http.MethodGet, one, nil, "read:subscriptions", keyWrite},
		{"Set", http.MethodPost, "/api/service/subscriptions", post, "write:subscriptions", keyRead},
		{"Update", http.MethodPatch, one, map[string]any{"status": "past_due"}, "write:subscriptions", keyDelete},
		{"Delete", http.MethodDelete, one, nil, "delete:subscriptions", keyWrite},
	}
	for _, ep := range endpoints {
		t.Run(ep.name+"NoKey", func(t *testing.T) {
			t.Parallel()
			requireProblem(t, b.do(t, ep.method, ep.path, "", ep.body), http.StatusUnauthorized, httpapi.CodeUnauthorized, "")
		})
		t.Run(ep.name+"UnknownKey", func(t *testing.T) {
			t.Parallel()
			requireProblem(t, b.do(t, ep.method, ep.path, "sk_nope", ep.body), http.StatusUnauthorized, httpapi.CodeUnauthorized, "")
		})
		t.Run(ep.name+"NonKeyPrincipal", func(t *testing.T) {
			t.Parallel()
			requireProblem(t, b.do(t, ep.method, ep.path, keyUserKind, ep.body), http.StatusForbidden, httpapi.CodeForbidden, "A service API key is required")
		})
		t.Run(ep.name+"MissingPermission", func(t *testing.T) {
			t.Parallel()
			requireProblem(t, b.do(t, ep.method, ep.path, ep.lacking, ep.body), http.StatusForbidden, httpapi.CodeForbidden,
				"Missing required permission: "+ep.perm)
		})
	}
	t.Run("NothingChanged", func(t *testing.T) {
		t.Parallel()
		got := decodeSubscription(t, b.do(t, http.MethodGet, one, keyRead, nil))
		require.Equal(t, "active", got.Status)
		require.Zero(t, b.countSubscriptions(t, b.bob))
		require.Len(t, b.auditRows(t, b.orgA, "subscription.created"), 1)
		require.Empty(t, b.auditRows(t, b.orgA, "subscription.updated"))
		require.Empty(t, b.auditRows(t, b.orgA, "subscription.canceled"))
	})
}

func TestSetServiceSubscription(t *testing.T) {
	t.Parallel()

	t.Run("CreatesWithDefaults", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		got := b.subscribe(t, keyWrite, map[string]any{"user_id": b.ada, "plan_id": b.proA1})
		require.Equal(t, b.ada, got.UserID)
		require.Equal(t, &b.proA1, got.PlanID)
		require.Equal(t, "pro", *got.PlanName)
		require.Equal(t, "active", got.Status)
		require.True(t, b.now.Add(30*24*time.Hour).Equal(*got.CurrentPeriodEnd), got.CurrentPeriodEnd)

		var org, svc uuid.UUID
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT org_id, service_id FROM subscriptions WHERE id = $1`, got.ID).Scan(&org, &svc))
		require.Equal(t, [2]uuid.UUID{b.orgA, b.svcA1}, [2]uuid.UUID{org, svc})

		rows := b.auditRows(t, b.orgA, "subscription.created")
		require.Len(t, rows, 1)
		e := rows[0]
		require.Equal(t, "api_key", e.ActorType)
		require.Equal(t, "subscription", e.TargetType)
		require.Equal(t, got.ID.String(), e.TargetID)
		require.Equal(t, "billing-test", e.UserAgent)
		require.Equal(t, map[string]any{
			"subscription_id": got.ID.String(), "user_id": b.ada.String(), "service_id": b.svcA1.String(),
			"plan_id": b.proA1.String(), "plan_name": "pro", "status": "active",
			"current_period_end": "2026-12-27T12:00:00Z", "api_key_id": b.keyIDs[keyWrite].String(),
		}, e.Details)
	})

	t.Run("ReplacesTheUsersSubscription", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		first := b.subscribe(t, keyAll, map[string]any{"user_id": b.ada, "plan_id": b.proA1})
		second := b.subscribe(t, keyAll, map[string]any{
			"user_id": b.ada, "plan_id": b.freeA1, "status": "past_due", "current_period_end": "2027-01-31T10:00:00+01:00",
		})
		require.Equal(t, first.ID, second.ID, "one subscription per user and service")
		require.Equal(t, &b.freeA1, second.PlanID)
		require.Equal(t, "free", *second.PlanName)
		require.Equal(t, "past_due", second.Status)
		require.True(t, time.Date(2027, 1, 31, 9, 0, 0, 0, time.UTC).Equal(*second.CurrentPeriodEnd))
		require.Equal(t, 1, b.countSubscriptions(t, b.ada))

		updated := b.auditRows(t, b.orgA, "subscription.updated")
		require.Len(t, updated, 1)
		require.Equal(t, []any{"plan_id", "status", "current_period_end"}, updated[0].Details["changed_fields"])
		require.Equal(t, "active", updated[0].Details["old_status"])
		require.Equal(t, "free", updated[0].Details["plan_name"])

		// The same values again change nothing and record nothing.
		same := b.subscribe(t, keyAll, map[string]any{
			"user_id": b.ada, "plan_id": b.freeA1, "status": "past_due", "current_period_end": "2027-01-31T09:00:00Z",
		})
		require.Equal(t, second, same)
		require.Len(t, b.auditRows(t, b.orgA, "subscription.updated"), 1)

		// Becoming canceled is subscription.canceled.
		canceled := b.subscribe(t, keyAll, map[string]any{"user_id": b.ada, "plan_id": b.freeA1, "status": "canceled"})
		require.Equal(t, "canceled", canceled.Status)
		rows := b.auditRows(t, b.orgA, "subscription.canceled")
		require.Len(t, rows, 1)
		require.Equal(t, "past_due", rows[0].Details["old_status"])
		require.Len(t, b.auditRows(t, b.orgA, "subscription.created"), 1)
	})

	t.Run("ConcurrentCallsKeepOneRow", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var wg sync.WaitGroup
		statuses := make([]int, 6)
		for i := range statuses {
			wg.Go(func() {
				r := b.do(t, http.MethodPost, "/api/service/subscriptions", keyAll, map[string]any{"user_id": b.ada, "plan_id": b.proA1})
				statuses[i] = r.status
			})
		}
		wg.Wait()
		for _, s := range statuses {
			require.Equal(t, http.StatusOK, s)
		}
		require.Equal(t, 1, b.countSubscriptions(t, b.ada))
		require.Len(t, b.auditRows(t, b.orgA, "subscription.created"), 1)
	})

	t.Run("PlanMustBeThisServices", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		r := b.do(t, http.MethodPost, "/api/service/subscriptions", keyAll, map[string]any{"user_id": b.ada, "plan_id": b.basicA2})
		requireProblem(t, r, http.StatusForbidden, httpapi.CodeForbidden, "Plan does not belong to this service")
		for _, plan := range []uuid.UUID{b.freeB1, uuid.New()} { // another organization's plan, no plan
			r := b.do(t, http.MethodPost, "/api/service/subscriptions", keyAll, map[string]any{"user_id": b.ada, "plan_id": plan})
			requireProblem(t, r, http.StatusNotFound, httpapi.CodeNotFound, "Plan not found")
		}
		require.Zero(t, b.countSubscriptions(t, b.ada))
	})

	t.Run("UserMustBeThisServices", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for name, user := range map[string]uuid.UUID{
			"OtherServicesUser": b.carol, "OtherOrgsUser": b.dave, "PlatformUser": b.po, "Unknown": uuid.New(),
		} {
			r := b.do(t, http.MethodPost, "/api/service/subscriptions", keyAll, map[string]any{"user_id": user, "plan_id": b.proA1})
			requireProblem(t, r, http.StatusNotFound, httpapi.CodeNotFound, msgUserNotFound)
			require.Zero(t, b.countSubscriptions(t, user), name)
		}
		// The other service's key subscribes its own user to its own plan.
		got := b.subscribe(t, keyOtherService, map[string]any{"user_id": b.carol, "plan_id": b.basicA2})
		require.Equal(t, "basic", *got.PlanName)
	})

	t.Run("Validation", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		post := func(body map[string]any) response {
			return b.do(t, http.MethodPost, "/api/service/subscriptions", keyAll, body)
		}
		requireFieldError(t, post(map[string]any{"user_id": b.ada, "plan_id": b.proA1, "status": "trialing"}), "body.status", "")
		requireFieldError(t, post(map[string]any{"user_id": b.ada, "plan_id": b.proA1, "status": "cancelled"}), "body.status", "")
		requireFieldError(t, post(map[string]any{"user_id": b.ada, "plan_id": b.proA1, "current_period_end": "next month"}),
			"body.current_period_end", "Invalid current_period_end: expected an RFC 3339 timestamp such as 2026-12-31T23:59:59Z")
		requireFieldError(t, post(map[string]any{"user_id": "not-a-uuid", "plan_id": b.proA1}), "body.user_id", "")
		requireFieldError(t, post(map[string]any{"user_id": b.ada}), "body", "")
		require.Zero(t, b.countSubscriptions(t, b.ada))
	})
}

func TestListAndGetServiceSubscriptions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ada := b.subscribe(t, keyAll, map[string]any{"user_id": b.ada, "plan_id": b.proA1})
	bob := b.subscribe(t, keyAll, map[string]any{"user_id": b.bob, "plan_id": b.freeA1, "status": "past_due"})
	carol := b.subscribe(t, keyOtherService, map[string]any{"user_id": b.carol, "plan_id": b.basicA2})
	dave := b.subscribe(t, keyOtherOrg, map[string]any{"user_id": b.dave, "plan_id": b.freeB1})

	t.Run("ListsTheKeysServiceOnly", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, subscriptionList{Subscriptions: []subscription{ada, bob}, Total: 2}, b.list(t, keyRead, ""))
		require.Equal(t, subscriptionList{Subscriptions: []subscription{carol}, Total: 1}, b.list(t, keyOtherService, ""))
		require.Equal(t, subscriptionList{Subscriptions: []subscription{dave}, Total: 1}, b.list(t, keyOtherOrg, ""))
	})

	t.Run("FiltersAndPages", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, subscriptionList{Subscriptions: []subscription{bob}, Total: 1}, b.list(t, keyRead, "?status=past_due"))
		require.Equal(t, subscriptionList{Subscriptions: []subscription{}, Total: 0}, b.list(t, keyRead, "?status=canceled"))
		require.Equal(t, subscriptionList{Subscriptions: []subscription{bob}, Total: 2}, b.list(t, keyRead, "?limit=1&offset=1"))
		requireFieldError(t, b.do(t, http.MethodGet, "/api/service/subscriptions?status=bogus", keyRead, nil), "query.status", "")
		requireFieldError(t, b.do(t, http.MethodGet, "/api/service/subscriptions?limit=101", keyRead, nil), "query.limit", "")
		requireFieldError(t, b.do(t, http.MethodGet, "/api/service/subscriptions?offset=-1", keyRead, nil), "query.offset", "")
	})

	t.Run("Get", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, ada, decodeSubscription(t, b.do(t, http.MethodGet, "/api/service/subscriptions/"+b.ada.String(), keyRead, nil)))
	})

	t.Run("ShowsADeletedPlanAsNull", func(t *testing.T) {
		t.Parallel()
		b := setup(t) // its own: the listings above must not see this row
		plan := b.insertPlan(t, b.orgA, b.svcA2, "legacy")
		eve := b.linkUser(t, keyOtherService, "eve@example.test")
		b.subscribe(t, keyOtherService, map[string]any{"user_id": eve, "plan_id": plan, "status": "canceled"})
		_, err := b.pool.Exec(t.Context(), `DELETE FROM plans WHERE id = $1`, plan)
		require.NoError(t, err)
		got := decodeSubscription(t, b.do(t, http.MethodGet, "/api/service/subscriptions/"+eve.String(), keyOtherService, nil))
		require.Nil(t, got.PlanID)
		require.Nil(t, got.PlanName)
	})

	for name, tc := range map[string]struct{ key, user string }{
		"OtherServicesUser": {keyRead, b.carol.String()},
		"OtherServiceKey":   {keyOtherService, b.ada.String()},
		"OtherOrgKey":       {keyOtherOrg, b.ada.String()},
		"NoSubscription":    {keyRead, b.po.String()},
		"Malformed":         {keyRead, "not-a-uuid"},
	} {
		t.Run("NotFound"+name, func(t *testing.T) {
			t.Parallel()
			r := b.do(t, http.MethodGet, "/api/service/subscriptions/"+tc.user, tc.key, nil)
			requireProblem(t, r, http.StatusNotFound, httpapi.CodeNotFound, msgSubscriptionNotFound)
		})
	}
}

func TestUpdateServiceSubscription(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.subscribe(t, keyAll, map[string]any{"user_id": b.ada, "plan_id": b.proA1})
	path := "/api/service/subscriptions/" + b.ada.String()

	got := decodeSubscription(t, b.do(t, http.MethodPatch, path, keyWrite, map[string]any{"status": "suspended"}))
	require.Equal(t, "suspended", got.Status)
	require.Equal(t, "pro", *got.PlanName)
	require.True(t, b.now.Add(30*24*time.Hour).Equal(*got.CurrentPeriodEnd), "the period end is left alone")
	rows := b.auditRows(t, b.orgA, "subscription.updated")
	require.Len(t, rows, 1)
	require.Equal(t, []any{"status"}, rows[0].Details["changed_fields"])

	got = decodeSubscription(t, b.do(t, http.MethodPatch, path, keyWrite, map[string]any{"current_period_end": "2027-06-30T00:00:00Z"}))
	require.Equal(t, "suspended", got.Status)
	require.True(t, time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC).Equal(*got.CurrentPeriodEnd))

	got = decodeSubscription(t, b.do(t, http.MethodPatch, path, keyWrite, map[string]any{"status": "canceled"}))
	require.Equal(t, "canceled", got.Status)
	require.Len(t, b.auditRows(t, b.orgA, "subscription.canceled"), 1)
	require.Len(t, b.auditRows(t, b.orgA, "subscription.updated"), 2)

	requireProblem(t, b.do(t, http.MethodPatch, path, keyWrite, map[string]any{}), http.StatusBadRequest, httpapi.CodeBadRequest, "No fields to update")
	requireFieldError(t, b.do(t, http.MethodPatch, path, keyWrite, map[string]any{"current_period_end": "2027-13-01"}), "body.current_period_end", "")
	requireFieldError(t, b.do(t, http.MethodPatch, path, keyWrite, map[string]any{"status": "paused"}), "body.status", "")
	for _, key := range []string{keyOtherService, keyOtherOrg} {
		r := b.do(t, http.MethodPatch, path, key, map[string]any{"status": "active"})
		requireProblem(t, r, http.StatusNotFound, httpapi.CodeNotFound, msgSubscriptionNotFound)
	}
	r := b.do(t, http.MethodPatch, "/api/service/subscriptions/"+b.bob.String(), keyWrite, map[string]any{"status": "active"})
	requireProblem(t, r, http.StatusNotFound, httpapi.CodeNotFound, msgSubscriptionNotFound)
	require.Equal(t, "canceled", decodeSubscription(t, b.do(t, http.MethodGet, path, keyRead, nil)).Status)
}

func TestDeleteServiceSubscription(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sub := b.subscribe(t, keyAll, map[string]any{"user_id": b.ada, "plan_id": b.proA1})
	path := "/api/service/subscriptions/" + b.ada.String()

	for _, key := range []string{keyOtherService, keyOtherOrg} {
		requireProblem(t, b.do(t, http.MethodDelete, path, key, nil), http.StatusNotFound, httpapi.CodeNotFound, msgSubscriptionNotFound)
	}
	require.Equal(t, 1, b.countSubscriptions(t, b.ada))

	r := b.do(t, http.MethodDelete, path, keyDelete, nil)
	require.Equal(t, http.StatusNoContent, r.status, string(r.body))
	require.Empty(t, r.body)
	require.Zero(t, b.countSubscriptions(t, b.ada))
	rows := b.auditRows(t, b.orgA, "subscription.canceled")
	require.Len(t, rows, 1)
	require.Equal(t, sub.ID.String(), rows[0].TargetID)
	require.Equal(t, true, rows[0].Details["deleted"])

	requireProblem(t, b.do(t, http.MethodDelete, path, keyDelete, nil), http.StatusNotFound, httpapi.CodeNotFound, msgSubscriptionNotFound)
	requireProblem(t, b.do(t, http.MethodDelete, "/api/service/subscriptions/x", keyDelete, nil), http.StatusNotFound, httpapi.CodeNotFound, msgSubscriptionNotFound)
	// The user is still a user of the service and can subscribe again.
	again := b.subscribe(t, keyAll, map[string]any{"user_id": b.ada, "plan_id": b.freeA1})
	require.NotEqual(t, sub.ID, again.ID)
}

func TestUnlinkDeletesTheSubscription(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.subscribe(t, keyAll, map[string]any{"user_id": b.ada, "plan_id": b.proA1})
	b.subscribe(t, keyAll, map[string]any{"user_id": b.bob, "plan_id": b.proA1})
	// Ada is also a user of the organization's other service, subscribed there.
	require.Equal(t, b.ada, b.linkUser(t, keyOtherService, "ada@example.test"))
	b.subscribe(t, keyOtherService, map[string]any{"user_id": b.ada, "plan_id": b.basicA2})

	r := b.do(t, http.MethodDelete, "/api/service/users/"+b.ada.String(), keyAll, nil)
	require.Equal(t, http.StatusNoContent, r.status, string(r.body))

	requireProblem(t, b.do(t, http.MethodGet, "/api/service/subscriptions/"+b.ada.String(), keyRead, nil),
		http.StatusNotFound, httpapi.CodeNotFound, msgSubscriptionNotFound)
	// The other service's subscription and the other user's survive.
	decodeSubscription(t, b.do(t, http.MethodGet, "/api/service/subscriptions/"+b.ada.String(), keyOtherService, nil))
	decodeSubscription(t, b.do(t, http.MethodGet, "/api/service/subscriptions/"+b.bob.String(), keyRead, nil))
	rows := b.auditRows(t, b.orgA, "subscription.canceled")
	require.Len(t, rows, 1)
	require.Equal(t, map[string]any{
		"deleted": true, "reason": "user_unlinked", "api_key_id": b.keyIDs[keyAll].String(),
		"user_id": b.ada.String(), "service_id": b.svcA1.String(), "plan_id": b.proA1.String(), "status": "active",
		"subscription_id": rows[0].TargetID, "current_period_end": "2026-12-27T12:00:00Z",
	}, rows[0].Details)

	// Once unlinked, the user cannot be subscribed to the service.
	r = b.do(t, http.MethodPost, "/api/service/subscriptions", keyAll, map[string]any{"user_id": b.ada, "plan_id": b.proA1})
	requireProblem(t, r, http.StatusNotFound, httpapi.CodeNotFound, msgUserNotFound)
	// Unlinking a user without a subscription works as before.
	r = b.do(t, http.MethodDelete, "/api/service/users/"+b.carol.String(), keyOtherService, nil)
	require.Equal(t, http.StatusNoContent, r.status, string(r.body))
}

func TestSubscriptionsForOtherModules(t *testing.T) {
	t.Parallel()
	b := setup(t)
	svc := b.billing.Service()
	b.subscribe(t, keyAll, map[string]any{"user_id": b.ada, "plan_id": b.proA1})
	b.subscribe(t, keyAll, map[string]any{"user_id": b.bob, "plan_id": b.proA1, "status": "past_due"})
	require.Equal(t, b.ada, b.linkUser(t, keyOtherService, "ada@example.test"))
	b.subscribe(t, keyOtherService, map[string]any{"user_id": b.ada, "plan_id": b.basicA2})
	b.subscribe(t, keyOtherOrg, map[string]any{"user_id": b.dave, "plan_id": b.freeB1})

	t.Run("UserSubscriptions", func(t *testing.T) {
		t.Parallel()
		list, err := svc.UserSubscriptions(t.Context(), b.orgA, []uuid.UUID{b.ada, b.dave, b.carol})
		require.NoError(t, err)
		require.Len(t, list, 2, "dave's subscription is another organization's")
		require.Equal(t, [2]uuid.UUID{b.svcA1, b.svcA2}, [2]uuid.UUID{list[0].ServiceID, list[1].ServiceID})
		for _, x := range list {
			require.Equal(t, b.ada, x.UserID)
			require.Nil(t, x.PlanName, "tenancy names the plans")
		}
		list, err = svc.UserSubscriptions(t.Context(), b.orgA, nil)
		require.NoError(t, err)
		require.Empty(t, list)
	})

	t.Run("Counts", func(t *testing.T) {
		t.Parallel()
		c, err := svc.ServiceSubscriptionCounts(t.Context(), b.orgA, b.svcA1)
		require.NoError(t, err)
		require.Equal(t, billing.SubscriptionCounts{Total: 2, Active: 1}, c)
		c, err = svc.ServiceSubscriptionCounts(t.Context(), b.orgB, b.svcA1)
		require.NoError(t, err)
		require.Equal(t, billing.SubscriptionCounts{}, c, "the organization scopes the count")
	})
}

func TestNotConfigured(t *testing.T) {
	t.Parallel()
	b := setup(t)
	mod, err := billing.New(billing.Deps{Pool: b.pool, Recorder: b.audit.Recorder()})
	require.NoError(t, err)
	_, _, err = mod.Service().SetServiceSubscription(t.Context(), billing.ServiceKey{OrgID: b.orgA, ServiceID: b.svcA1},
		billing.NewSubscription{UserID: b.ada, PlanID: b.proA1, Status: ptr(billing.StatusActive)})
	require.ErrorIs(t, err, billing.ErrNotConfigured)
	_, err = billing.New(billing.Deps{Pool: b.pool})
	require.Error(t, err)
	_, err = billing.New(billing.Deps{Recorder: b.audit.Recorder()})
	require.Error(t, err)
}
