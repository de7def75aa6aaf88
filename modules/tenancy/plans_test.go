package tenancy_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/platform/httpapi"
)

func plansPath(s svc, rest ...string) string {
	return servicesPath(s.Org, append([]string{s.Slug, "plans"}, rest...)...)
}

func TestCreateAndListPlans(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("CreatedPlanIsListedCheapestFirstWithCounts", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		r := b.do(t, http.MethodPost, plansPath(s), w.AdminA.Token, map[string]any{
			"name": "  Pro  ", "description": " For teams ", "price_cents": 1900, "currency": "EUR",
			"features": []string{"sso", " audit ", "sso"}, "stripe_price_id": "price_123ABC",
		})
		got := decode[planWithCountJSON](t, r, http.StatusCreated)
		require.Equal(t, "Pro", got.Plan.Name)
		require.Equal(t, "For teams", *got.Plan.Description)
		require.Equal(t, int64(1900), got.Plan.PriceCents)
		require.Equal(t, "eur", got.Plan.Currency)
		require.Equal(t, []string{"sso", "audit"}, got.Plan.Features)
		require.Equal(t, "price_123ABC", *got.Plan.StripePriceID)
		require.False(t, got.Plan.IsDefault)
		require.Equal(t, s.ID.String(), got.Plan.ServiceID)
		require.Zero(t, got.SubscriptionCount)
		proID := uuid.MustParse(got.Plan.ID)

		cheap := b.createPlan(t, s, "Hobby", 500)
		b.subscribe(t, s, proID, "active")
		b.subscribe(t, s, proID, "past_due")

		list := decode[[]planWithCountJSON](t, b.do(t, http.MethodGet, plansPath(s), w.AdminA.Token, nil), http.StatusOK)
		require.Len(t, list, 3)
		require.Equal(t, []string{"free", "Hobby", "Pro"}, []string{list[0].Plan.Name, list[1].Plan.Name, list[2].Plan.Name})
		require.Equal(t, cheap.String(), list[1].Plan.ID)
		require.True(t, list[0].Plan.IsDefault)
		require.Equal(t, 1, list[2].SubscriptionCount, "active subscriptions only")

		one := decode[planWithCountJSON](t, b.do(t, http.MethodGet, plansPath(s, proID.String()), w.AdminA.Token, nil), http.StatusOK)
		require.Equal(t, got.Plan.ID, one.Plan.ID)
		require.Equal(t, 1, one.SubscriptionCount)

		rows := b.orgAudit(t, w.A.ID, "plan.created")
		require.Len(t, rows, 3, "the default plan and the two added ones")
		require.Equal(t, "Hobby", rows[0].Details["plan_name"])
		require.Equal(t, got.Plan.ID, rows[1].TargetID)
		require.Equal(t, "plan", rows[1].TargetType)
		require.Equal(t, w.AdminA.ID, *rows[1].ActorID)
		require.Equal(t, s.Slug, rows[1].Details["service_slug"])
		require.Equal(t, float64(1900), rows[1].Details["price_cents"])
	})

	t.Run("DuplicateNameIs409InAnyCase", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		for _, name := range []string{"free", "FREE", " Free "} {
			r := b.do(t, http.MethodPost, plansPath(s), w.OwnerA.Token, map[string]any{"name": name, "price_cents": 0, "currency": "usd"})
			requireProblem(t, r, http.StatusConflict, httpapi.CodeDuplicateConstraint, "A plan with this name already exists for this service")
		}
		// Names are per service.
		s2 := b.createService(t, w.A)
		r := b.do(t, http.MethodPost, plansPath(s2), w.OwnerA.Token, map[string]any{"name": "Pro", "price_cents": 1, "currency": "usd"})
		require.Equal(t, http.StatusCreated, r.status, string(r.body))
		r = b.do(t, http.MethodPost, plansPath(s), w.OwnerA.Token, map[string]any{"name": "Pro", "price_cents": 1, "currency": "usd"})
		require.Equal(t, http.StatusCreated, r.status, string(r.body))
	})

	t.Run("NewDefaultTakesTheFlag", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		got := decode[planWithCountJSON](t, b.do(t, http.MethodPost, plansPath(s), w.OwnerA.Token,
			map[string]any{"name": "Starter", "price_cents": 900, "currency": "usd", "is_default": true}), http.StatusCreated)
		require.True(t, got.Plan.IsDefault)
		list := decode[[]planWithCountJSON](t, b.do(t, http.MethodGet, plansPath(s), w.OwnerA.Token, nil), http.StatusOK)
		require.Len(t, list, 2)
		require.False(t, list[0].Plan.IsDefault, "free lost the flag")
		require.True(t, list[1].Plan.IsDefault)
		updated := b.orgAudit(t, w.A.ID, "plan.updated")
		require.Len(t, updated, 1)
		require.Equal(t, s.DefaultPlanID.String(), updated[0].TargetID)
		require.Equal(t, []any{"is_default"}, updated[0].Details["changed_fields"])
	})

	t.Run("ValidationIs422", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		valid := func(over map[string]any) map[string]any {
			m := map[string]any{"name": "Plan", "price_cents": 100, "currency": "usd"}
			for k, v := range over {
				m[k] = v
			}
			return m
		}
		for _, tc := range []struct {
			Name     string
			Body     map[string]any
			Location string
		}{
			{"BlankName", valid(map[string]any{"name": "   "}), "body.name"},
			{"NegativePrice", valid(map[string]any{"price_cents": -1}), "body.price_cents"},
			{"MissingCurrency", map[string]any{"name": "Plan", "price_cents": 1}, "body"},
			{"BadCurrency", valid(map[string]any{"currency": "u$d"}), "body.currency"},
			{"EmptyFeature", valid(map[string]any{"features": []string{"ok", " "}}), "body.features[1]"},
			{"BadPriceID", valid(map[string]any{"stripe_price_id": "price 1"}), "body.stripe_price_id"},
			{"DescriptionTooLong", valid(map[string]any{"description": strings.Repeat("d", 1001)}), "body.description"},
		} {
			t.Run(tc.Name, func(t *testing.T) {
				t.Parallel()
				requireFieldError(t, b.do(t, http.MethodPost, plansPath(s), w.OwnerA.Token, tc.Body), tc.Location)
			})
		}
	})

	t.Run("UnknownServiceOrPlanIs404", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		otherService := b.createService(t, w.B)
		requireProblem(t, b.do(t, http.MethodGet, servicesPath(w.A, "missing-svc", "plans"), w.OwnerA.Token, nil),
			http.StatusNotFound, httpapi.CodeNotFound, "Service not found")
		for _, id := range []string{uuid.NewString(), "not-a-uuid", otherService.DefaultPlanID.String()} {
			requireProblem(t, b.do(t, http.MethodGet, plansPath(s, id), w.OwnerA.Token, nil),
				http.StatusNotFound, httpapi.CodeNotFound, "Plan not found")
		}
	})
}

func TestUpdatePlan(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("ChangesAndClears", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		r := b.do(t, http.MethodPost, plansPath(s), w.OwnerA.Token, map[string]any{
			"name": "Pro", "description": "Teams", "price_cents": 1900, "currency": "usd", "stripe_price_id": "price_1",
		})
		id := decode[planWithCountJSON](t, r, http.StatusCreated).Plan.ID

		got := decode[planWithCountJSON](t, b.do(t, http.MethodPatch, plansPath(s, id), w.AdminA.Token, map[string]any{
			"name": "Pro Plus", "price_cents": 2900, "features": []string{"sso"}, "stripe_price_id": nil, "description": nil,
		}), http.StatusOK)
		require.Equal(t, "Pro Plus", got.Plan.Name)
		require.Equal(t, int64(2900), got.Plan.PriceCents)
		require.Equal(t, []string{"sso"}, got.Plan.Features)
		require.Nil(t, got.Plan.StripePriceID, "null clears")
		require.Nil(t, got.Plan.Description, "null clears")
		require.Equal(t, "usd", got.Plan.Currency, "absent fields stay")

		rows := b.orgAudit(t, w.A.ID, "plan.updated")
		require.Len(t, rows, 1)
		require.Equal(t, id, rows[0].TargetID)
		require.ElementsMatch(t, []any{"name", "price_cents", "features", "stripe_price_id", "description"}, rows[0].Details["changed_fields"])

		// The same values again change nothing and record nothing.
		r = b.do(t, http.MethodPatch, plansPath(s, id), w.AdminA.Token, map[string]any{"name": "Pro Plus", "currency": "USD"})
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		require.Len(t, b.orgAudit(t, w.A.ID, "plan.updated"), 1)
	})

	t.Run("SettingDefaultMovesTheFlag", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		pro := b.createPlan(t, s, "Pro", 1900)
		got := decode[planWithCountJSON](t, b.do(t, http.MethodPatch, plansPath(s, pro.String()), w.OwnerA.Token,
			map[string]any{"is_default": true}), http.StatusOK)
		require.True(t, got.Plan.IsDefault)
		free := decode[planWithCountJSON](t, b.do(t, http.MethodGet, plansPath(s, s.DefaultPlanID.String()), w.OwnerA.Token, nil), http.StatusOK)
		require.False(t, free.Plan.IsDefault)
		rows := b.orgAudit(t, w.A.ID, "plan.updated")
		require.Len(t, rows, 2, "the new default and the previous one")
		require.ElementsMatch(t, []string{pro.String(), s.DefaultPlanID.String()}, []string{rows[0].TargetID, rows[1].TargetID})

		// The default is moved, never just cleared.
		r := b.do(t, http.MethodPatch, plansPath(s, pro.String()), w.OwnerA.Token, map[string]any{"is_default": false})
		requireProblem(t, r, http.StatusBadRequest, httpapi.CodeBadRequest, "A service always has a default plan: make another plan the default instead")
		// Setting it again is no change.
		r = b.do(t, http.MethodPatch, plansPath(s, pro.String()), w.OwnerA.Token, map[string]any{"is_default": true})
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		require.Len(t, b.orgAudit(t, w.A.ID, "plan.updated"), 2)
	})

	t.Run("RenamingOntoAnotherPlanIs409", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		pro := b.createPlan(t, s, "Pro", 1900)
		r := b.do(t, http.MethodPatch, plansPath(s, pro.String()), w.OwnerA.Token, map[string]any{"name": "Free"})
		requireProblem(t, r, http.StatusConflict, httpapi.CodeDuplicateConstraint, "A plan with this name already exists for this service")
	})

	t.Run("EmptyPatchIs400AndValidationIs422", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		path := plansPath(s, s.DefaultPlanID.String())
		requireProblem(t, b.do(t, http.MethodPatch, path, w.OwnerA.Token, map[string]any{}), http.StatusBadRequest, httpapi.CodeBadRequest, "No fields to update")
		requireFieldError(t, b.do(t, http.MethodPatch, path, w.OwnerA.Token, map[string]any{"price_cents": -5}), "body.price_cents")
		requireFieldError(t, b.do(t, http.MethodPatch, path, w.OwnerA.Token, map[string]any{"currency": "1234"}), "body.currency")
		requireFieldError(t, b.do(t, http.MethodPatch, path, w.OwnerA.Token, map[string]any{"name": " "}), "body.name")
	})

	t.Run("PlanOfAnotherServiceIs404", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s1, s2 := b.createService(t, w.A), b.createService(t, w.A)
		r := b.do(t, http.MethodPatch, plansPath(s1, s2.DefaultPlanID.String()), w.OwnerA.Token, map[string]any{"price_cents": 5})
		requireProblem(t, r, http.StatusNotFound, httpapi.CodeNotFound, "Plan not found")
	})
}

func TestDeletePlan(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("RefusedWithActiveSubscriptionsThenDeleted", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		pro := b.createPlan(t, s, "Pro", 1900)
		sub := b.subscribe(t, s, pro, "active")
		r := b.do(t, http.MethodDelete, plansPath(s, pro.String()), w.AdminA.Token, nil)
		requireProblem(t, r, http.StatusBadRequest, httpapi.CodeBadRequest, "Cannot delete plan with active subscriptions")

		_, err := b.pool.Exec(t.Context(), `UPDATE subscriptions SET status = 'canceled' WHERE id = $1`, sub)
		require.NoError(t, err)
		r = b.do(t, http.MethodDelete, plansPath(s, pro.String()), w.AdminA.Token, nil)
		require.Equal(t, http.StatusNoContent, r.status, string(r.body))

		var planID *uuid.UUID
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT plan_id FROM subscriptions WHERE id = $1`, sub).Scan(&planID))
		require.Nil(t, planID, "the ended subscription keeps its row without the plan")

		rows := b.orgAudit(t, w.A.ID, "plan.deleted")
		require.Len(t, rows, 1)
		require.Equal(t, pro.String(), rows[0].TargetID)
		require.Equal(t, "Pro", rows[0].Details["plan_name"])
		requireProblem(t, b.do(t, http.MethodGet, plansPath(s, pro.String()), w.AdminA.Token, nil), http.StatusNotFound, httpapi.CodeNotFound, "Plan not found")
		requireProblem(t, b.do(t, http.MethodDelete, plansPath(s, pro.String()), w.AdminA.Token, nil), http.StatusNotFound, httpapi.CodeNotFound, "Plan not found")
	})

	t.Run("DefaultPlanStays", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		s := b.createService(t, w.A)
		r := b.do(t, http.MethodDelete, plansPath(s, s.DefaultPlanID.String()), w.OwnerA.Token, nil)
		requireProblem(t, r, http.StatusBadRequest, httpapi.CodeBadRequest, "Cannot delete the default plan: make another plan the default first")
		require.Empty(t, b.orgAudit(t, w.A.ID, "plan.deleted"))
	})
}
