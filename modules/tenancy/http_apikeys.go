package tenancy

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/authos/authos/platform/httpapi"
)

// apiKeysTag is the OpenAPI tag of the API key operations.
const apiKeysTag = "API Keys"

// APIKeyBody is the API key object (spec §8.1). Neither the key nor its
// hash is ever part of it.
type APIKeyBody struct {
	ID          string     `json:"id" format:"uuid"`
	ServiceID   string     `json:"service_id" format:"uuid"`
	Name        string     `json:"name"`
	Prefix      string     `json:"prefix" doc:"sk_ and 12 hex characters: the public start of the key"`
	Permissions []string   `json:"permissions"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty" doc:"Absent when the key does not expire"`
	LastUsedAt  *time.Time `json:"last_used_at,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	CreatedBy   *string    `json:"created_by" format:"uuid" doc:"Null once the creator's account is gone"`
}

func toAPIKeyBody(k APIKey) APIKeyBody {
	out := APIKeyBody{
		ID: k.ID.String(), ServiceID: k.ServiceID.String(), Name: k.Name, Prefix: k.Prefix, Permissions: nonNil(k.Permissions),
		ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt, CreatedAt: k.CreatedAt,
	}
	if k.CreatedBy != nil {
		by := k.CreatedBy.String()
		out.CreatedBy = &by
	}
	return out
}

// CreatedAPIKeyBody is a new key with its secret, answered only when the
// key is created.
type CreatedAPIKeyBody struct {
	APIKeyBody
	Key string `json:"key" doc:"The full key, shown once; store it now"`
}

// APIKeyInput names a key of a service.
type APIKeyInput struct {
	ServiceSlugInput
	APIKeyID string `path:"api-key-id" maxLength:"36"`
}

// CreateAPIKeyInput is POST …/services/{service-slug}/api-keys.
type CreateAPIKeyInput struct {
	ServiceSlugInput
	Body struct {
		Name          string   `json:"name" minLength:"1" maxLength:"100"`
		Permissions   []string `json:"permissions" minItems:"1" maxItems:"50" doc:"read:users, write:users, delete:users, read:subscriptions, write:subscriptions, delete:subscriptions, read:analytics, read:service, write:service, read:provider_tokens or read:provider_tokens:<provider>"`
		ExpiresInDays *int     `json:"expires_in_days,omitempty" minimum:"1" maximum:"3650" doc:"Absent: the key does not expire"`
	}
}

// CreateAPIKeyOutput carries the new key with its secret (shown once).
type CreateAPIKeyOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         CreatedAPIKeyBody
}

// ListAPIKeysInput is GET …/services/{service-slug}/api-keys.
type ListAPIKeysInput struct {
	ServiceSlugInput
	Limit  int `query:"limit" minimum:"1" maximum:"100" default:"50"`
	Offset int `query:"offset" minimum:"0" default:"0"`
}

// ListAPIKeysOutput is one page of a service's keys, newest first.
type ListAPIKeysOutput struct {
	Body struct {
		APIKeys []APIKeyBody `json:"api_keys"`
		Total   int          `json:"total"`
	}
}

// APIKeyOutput is one key.
type APIKeyOutput struct {
	Body APIKeyBody
}

func registerAPIKeyRoutes(api huma.API, s *Service) {
	g := huma.NewGroup(api, "/api/organizations/{org-slug}/services/{service-slug}/api-keys")
	g.UseSimpleModifier(func(op *huma.Operation) {
		op.Tags = []string{apiKeysTag}
		op.Security = httpapi.Security(httpapi.SchemeBearer)
	})

	huma.Register(g, huma.Operation{
		OperationID: "create-api-key", Method: http.MethodPost, Path: "", DefaultStatus: http.StatusCreated,
		Summary: "Create an API key",
		Description: "Needs services.manage in an active organization. The answer carries the full key, shown this " +
			"once: only its prefix and SHA-256 are stored.",
	}, func(ctx context.Context, in *CreateAPIKeyInput) (*CreateAPIKeyOutput, error) {
		res, err := s.CreateAPIKey(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug, in.ServiceSlug, NewAPIKey{
			Name: in.Body.Name, Permissions: in.Body.Permissions, ExpiresInDays: in.Body.ExpiresInDays,
		})
		if err != nil {
			return nil, toHTTPError(err)
		}
		return &CreateAPIKeyOutput{CacheControl: "no-store", Body: CreatedAPIKeyBody{APIKeyBody: toAPIKeyBody(res.Key), Key: res.Secret}}, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "list-api-keys", Method: http.MethodGet, Path: "",
		Summary: "List a service's API keys", Description: "Needs services.manage. Newest first; never the keys themselves.",
	}, func(ctx context.Context, in *ListAPIKeysInput) (*ListAPIKeysOutput, error) {
		res, err := s.ListAPIKeys(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug, in.ServiceSlug,
			APIKeyFilter{Limit: in.Limit, Offset: in.Offset})
		if err != nil {
			return nil, toHTTPError(err)
		}
		out := &ListAPIKeysOutput{}
		out.Body.APIKeys = make([]APIKeyBody, 0, len(res.Keys))
		for _, k := range res.Keys {
			out.Body.APIKeys = append(out.Body.APIKeys, toAPIKeyBody(k))
		}
		out.Body.Total = res.Total
		return out, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "get-api-key", Method: http.MethodGet, Path: "/{api-key-id}",
		Summary: "Get an API key", Description: "Needs services.manage.",
	}, func(ctx context.Context, in *APIKeyInput) (*APIKeyOutput, error) {
		k, err := s.GetAPIKey(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug, in.ServiceSlug, pathID(in.APIKeyID))
		if err != nil {
			return nil, toHTTPError(err)
		}
		return &APIKeyOutput{Body: toAPIKeyBody(k)}, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "delete-api-key", Method: http.MethodDelete, Path: "/{api-key-id}", DefaultStatus: http.StatusNoContent,
		Summary: "Delete an API key", Description: "Needs services.manage. The key stops working at once.",
	}, func(ctx context.Context, in *APIKeyInput) (*struct{}, error) {
		if err := s.DeleteAPIKey(ctx, actorFrom(ctx, in.ClientMeta), in.OrgSlug, in.ServiceSlug, pathID(in.APIKeyID)); err != nil {
			return nil, toHTTPError(err)
		}
		return nil, nil
	})
}
