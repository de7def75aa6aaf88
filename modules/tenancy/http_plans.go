package tenancy

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/authos/authos/platform/httpapi"
)

// PlanBody is the plan object (spec §5).
type PlanBody struct {
	ID            string    `json:"id" format:"uuid"`
	ServiceID     string    `json:"service_id" format:"uuid"`
	Name          string    `json:"name"`
	Description   *string   `json:"description,omitempty"`
	PriceCents    int64     `json:"price_cents"`
	Currency      string    `json:"currency"`
	Features      []string  `json:"features"`
	StripePriceID *string   `json:"stripe_price_id,omitempty"`
	IsDefault     bool      `json:"is_default"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

func toPlanBody(p Plan) PlanBody {
	return PlanBody{
		ID: p.ID.String(), ServiceID: p.ServiceID.String(), Name: p.Name, Description: p.Description, PriceCents: p.PriceCents,
		Currency: p.Currency, Features: nonNil(p.Features), StripePriceID: p.StripePriceID, IsDefault: p.IsDefault,
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
}

// PlanWithCountBody is a plan with its active-subscription count.
type PlanWithCountBody struct {
	Plan              PlanBody `json:"plan"`
	SubscriptionCount int      `json:"subscription_count" doc:"Active subscriptions"`
}

func toPlanWithCountBody(p PlanSummary) PlanWithCountBody {
	return PlanWithCountBody{Plan: toPlanBody(p.Plan), SubscriptionCount: p.SubscriptionCount}
}

// PlanOutput is one plan with its subscription count.
type PlanOutput struct {
	Body PlanWithCountBody
}

// ListPlansOutput is a service's plans, cheapest first.
type ListPlansOutput struct {
	Body []PlanWithCountBody
}

// PlanInput names a plan of a service.
type PlanInput struct {
	ServiceSlugInput
	PlanID string `path:"plan-id" maxLength:"36"`
}

// CreatePlanInput is POST …/services/{service-slug}/plans.
type CreatePlanInput struct {
	ServiceSlugInput
	Body struct {
		Name          string   `json:"name" minLength:"1" maxLength:"100"`
		Description   *string  `json:"description,omitempty" maxLength:"1000"`
		PriceCents    int64    `json:"price_cents" minimum:"0"`
		Currency      string   `json:"currency" minLength:"3" maxLength:"3" doc:"ISO 4217 code, e.g. usd"`
		Features      []string `json:"features,omitempty" maxItems:"100"`
		StripePriceID *string  `json:"stripe_price_id,omitempty" maxLength:"255" doc:"The billing provider's price id"`
		IsDefault     bool     `json:"is_default,omitempty" doc:"Make this the service's default plan (the flag moves)"`
	}
}

// PatchPlanInput is PATCH …/services/{service-slug}/plans/{plan-id}.
type PatchPlanInput struct {
	PlanInput
	Body struct {
		Name          *string        `json:"name,omitempty" minLength:"1" maxLength:"100"`
		Description   OptionalString `json:"description,omitempty" required:"false"`
		PriceCents    *int64         `json:"price_cents,omitempty" minimum:"0"`
		Currency      *string        `json:"currency,omitempty" minLength:"3" maxLength:"3"`
		Features      []string       `json:"features,omitempty" maxItems:"100" doc:"Replaces the list"`
		StripePriceID OptionalString `json:"stripe_price_id,omitempty" required:"false"`
		IsDefault     *bool          `json:"is_default,omitempty" doc:"true makes this the default plan; the default cannot be unset directly"`
	}
}

func registerPlanRoutes(api huma.API, s *Service) {
	g := huma.NewGroup(api, "/api/organizations/{org-slug}/services/{service-slug}/plans")
	g.UseSimpleModifier(func(op *huma.Operation) {
		op.Tags = []string{servicesTag}
		op.Security = httpapi.Security(httpapi.SchemeBearer)
	})

	huma.Register(g, huma.Operation{
		OperationID: "list-plans", Method: http.MethodGet, Path: "",
		Summary: "List a service's plans", Description: "Needs services.view. Cheapest first.",
	}, func(ctx context.Context, in *ServiceSlugInput) (*ListPlansOutput, error) {
		list, err := s.ListPlans(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug, in.ServiceSlug)
		if err != nil {
			return nil, toHTTPError(err)
		}
		out := &ListPlansOutput{Body: make([]PlanWithCountBody, 0, len(list))}
		for _, p := range list {
			out.Body = append(out.Body, toPlanWithCountBody(p))
		}
		return out, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "create-plan", Method: http.MethodPost, Path: "", DefaultStatus: http.StatusCreated,
		Summary: "Add a plan to a service", Description: "Needs services.manage. Plan names are unique in the service.",
	}, func(ctx context.Context, in *CreatePlanInput) (*PlanOutput, error) {
		p, err := s.CreatePlan(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug, in.ServiceSlug, NewPlan{
			Name: in.Body.Name, Description: in.Body.Description, PriceCents: in.Body.PriceCents, Currency: in.Body.Currency,
			Features: in.Body.Features, StripePriceID: in.Body.StripePriceID, IsDefault: in.Body.IsDefault,
		})
		if err != nil {
			return nil, toHTTPError(err)
		}
		return &PlanOutput{Body: toPlanWithCountBody(p)}, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "get-plan", Method: http.MethodGet, Path: "/{plan-id}",
		Summary: "Get a plan", Description: "Needs services.view.",
	}, func(ctx context.Context, in *PlanInput) (*PlanOutput, error) {
		p, err := s.GetPlan(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug, in.ServiceSlug, pathID(in.PlanID))
		if err != nil {
			return nil, toHTTPError(err)
		}
		return &PlanOutput{Body: toPlanWithCountBody(p)}, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "update-plan", Method: http.MethodPatch, Path: "/{plan-id}",
		Summary:     "Update a plan",
		Description: "Needs services.manage. null clears description and stripe_price_id; is_default true moves the default flag here.",
	}, func(ctx context.Context, in *PatchPlanInput) (*PlanOutput, error) {
		p, err := s.UpdatePlan(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug, in.ServiceSlug, pathID(in.PlanID), PlanUpdate{
			Name: in.Body.Name, Description: in.Body.Description.clearable(), PriceCents: in.Body.PriceCents,
			Currency: in.Body.Currency, Features: in.Body.Features, StripePriceID: in.Body.StripePriceID.clearable(),
			IsDefault: in.Body.IsDefault,
		})
		if err != nil {
			return nil, toHTTPError(err)
		}
		return &PlanOutput{Body: toPlanWithCountBody(p)}, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "delete-plan", Method: http.MethodDelete, Path: "/{plan-id}", DefaultStatus: http.StatusNoContent,
		Summary:     "Delete a plan",
		Description: "Needs services.manage. The default plan and plans with active subscriptions cannot be deleted.",
	}, func(ctx context.Context, in *PlanInput) (*struct{}, error) {
		if err := s.DeletePlan(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug, in.ServiceSlug, pathID(in.PlanID)); err != nil {
			return nil, toHTTPError(err)
		}
		return nil, nil
	})
}
