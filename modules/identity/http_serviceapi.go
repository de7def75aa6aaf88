package identity

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/authos/authos/platform/httpapi"
)

// Service API permissions of the user endpoints (spec §8.2 allowlist).
const (
	permReadUsers   = "read:users"
	permWriteUsers  = "write:users"
	permDeleteUsers = "delete:users"
)

const (
	msgServiceUserNotFound = "User not found or has not authenticated with this service"
	msgServiceUserReadOnly = "Service API keys cannot update organization user profile fields"
)

// ServiceUserBody is a user of a service as the Service API shows it.
type ServiceUserBody struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	CreatedAt time.Time `json:"created_at"`
}

func toServiceUserBody(u User) ServiceUserBody {
	return ServiceUserBody{ID: u.ID.String(), Email: u.Email, CreatedAt: u.CreatedAt}
}

// ServiceUserOutput is one user of the service.
type ServiceUserOutput struct {
	Body ServiceUserBody
}

// CreatedServiceUserOutput is POST /api/service/users: 201 when the user
// was created or linked, 200 when it was already linked.
type CreatedServiceUserOutput struct {
	Status int
	Body   ServiceUserBody
}

// ListServiceUsersInput is GET /api/service/users.
type ListServiceUsersInput struct {
	Limit  int `query:"limit" minimum:"1" maximum:"100" default:"50"`
	Offset int `query:"offset" minimum:"0" default:"0"`
}

// ListServiceUsersOutput is a page of the service's users.
type ListServiceUsersOutput struct {
	Body struct {
		Users []ServiceUserBody `json:"users"`
		Total int               `json:"total"`
	}
}

// ServiceUserPathInput names a user of the service. The id is a string so
// that a malformed id answers the same 404 as an unknown one.
type ServiceUserPathInput struct {
	UserID string `path:"user-id" maxLength:"64"`
}

// CreateServiceUserInput is POST /api/service/users.
type CreateServiceUserInput struct {
	ClientMeta
	Body struct {
		Email string `json:"email" maxLength:"254"`
	}
}

// UpdateServiceUserInput is PATCH /api/service/users/{user-id}. Profile
// fields belong to the organization: a key may not change them.
type UpdateServiceUserInput struct {
	ServiceUserPathInput
	Body struct {
		Email *string `json:"email,omitempty" maxLength:"254" doc:"Refused: API keys cannot change profile fields"`
	}
}

// serviceKeyFrom returns the caller's API key scope when the principal is a
// service API key holding perm.
func serviceKeyFrom(ctx context.Context, perm string) (ServiceKey, error) {
	p, ok := httpapi.PrincipalFrom(ctx)
	if !ok {
		return ServiceKey{}, httpapi.NewError(http.StatusUnauthorized, httpapi.CodeUnauthorized, "Authentication required")
	}
	if p.Kind != httpapi.PrincipalAPIKey || p.OrgID == nil || p.ServiceID == nil {
		return ServiceKey{}, httpapi.NewError(http.StatusForbidden, httpapi.CodeForbidden, "A service API key is required")
	}
	if !p.HasPermission(perm) {
		return ServiceKey{}, httpapi.NewError(http.StatusForbidden, httpapi.CodeForbidden, "Missing required permission: "+perm)
	}
	return ServiceKey{OrgID: *p.OrgID, ServiceID: *p.ServiceID, APIKeyID: p.APIKeyID}, nil
}

// serviceUserError maps the errors of the Service API user endpoints.
func serviceUserError(err error) error {
	if errors.Is(err, ErrUserNotFound) {
		return httpapi.NewError(http.StatusNotFound, httpapi.CodeNotFound, msgServiceUserNotFound)
	}
	return toHTTPError(err)
}

func registerServiceAPIRoutes(api huma.API, s *Service) {
	g := huma.NewGroup(api)
	g.UseSimpleModifier(func(op *huma.Operation) {
		op.Tags = []string{"Service API"}
		op.Security = httpapi.Security(httpapi.SchemeAPIKey)
	})

	huma.Register(g, huma.Operation{
		OperationID: "list-service-users", Method: http.MethodGet, Path: "/api/service/users",
		Summary: "List the service's users", Description: "Needs read:users. The users who hold an identity of the key's service.",
	}, func(ctx context.Context, in *ListServiceUsersInput) (*ListServiceUsersOutput, error) {
		k, err := serviceKeyFrom(ctx, permReadUsers)
		if err != nil {
			return nil, err
		}
		users, total, err := s.ListServiceUsers(ctx, k, in.Limit, in.Offset)
		if err != nil {
			return nil, serviceUserError(err)
		}
		out := &ListServiceUsersOutput{}
		out.Body.Users = make([]ServiceUserBody, 0, len(users))
		for _, u := range users {
			out.Body.Users = append(out.Body.Users, toServiceUserBody(u))
		}
		out.Body.Total = total
		return out, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "get-service-user", Method: http.MethodGet, Path: "/api/service/users/{user-id}",
		Summary: "Get a user of the service", Description: "Needs read:users.",
	}, func(ctx context.Context, in *ServiceUserPathInput) (*ServiceUserOutput, error) {
		k, err := serviceKeyFrom(ctx, permReadUsers)
		if err != nil {
			return nil, err
		}
		u, err := getServiceUserByPath(ctx, s, k, in.UserID)
		if err != nil {
			return nil, err
		}
		return &ServiceUserOutput{Body: toServiceUserBody(u)}, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "create-service-user", Method: http.MethodPost, Path: "/api/service/users",
		Summary: "Create or link a user of the service", DefaultStatus: http.StatusCreated,
		Description: "Needs write:users. Links the organization's user with this email to the service, creating it " +
			"(without password, email unverified) when absent: 201. A user already linked answers 200.",
	}, func(ctx context.Context, in *CreateServiceUserInput) (*CreatedServiceUserOutput, error) {
		k, err := serviceKeyFrom(ctx, permWriteUsers)
		if err != nil {
			return nil, err
		}
		u, created, err := s.LinkServiceUser(ctx, k, in.Body.Email, metaFrom(ctx, in.ClientMeta))
		if err != nil {
			return nil, serviceUserError(err)
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		return &CreatedServiceUserOutput{Status: status, Body: toServiceUserBody(u)}, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "update-service-user", Method: http.MethodPatch, Path: "/api/service/users/{user-id}",
		Summary: "Update a user of the service", Description: "Needs write:users. Profile fields cannot be changed: " +
			"an email answers 403 and an empty body returns the user unchanged.",
	}, func(ctx context.Context, in *UpdateServiceUserInput) (*ServiceUserOutput, error) {
		k, err := serviceKeyFrom(ctx, permWriteUsers)
		if err != nil {
			return nil, err
		}
		if in.Body.Email != nil {
			return nil, httpapi.NewError(http.StatusForbidden, httpapi.CodeForbidden, msgServiceUserReadOnly)
		}
		u, err := getServiceUserByPath(ctx, s, k, in.UserID)
		if err != nil {
			return nil, err
		}
		return &ServiceUserOutput{Body: toServiceUserBody(u)}, nil
	})

	huma.Register(g, huma.Operation{
		OperationID: "delete-service-user", Method: http.MethodDelete, Path: "/api/service/users/{user-id}",
		Summary: "Unlink a user from the service", DefaultStatus: http.StatusNoContent,
		Description: "Needs delete:users. Removes the user's identities of this service and revokes its sessions " +
			"of this service; the user account itself survives.",
	}, func(ctx context.Context, in *ServiceUserPathInput) (*struct{}, error) {
		k, err := serviceKeyFrom(ctx, permDeleteUsers)
		if err != nil {
			return nil, err
		}
		id, err := uuid.Parse(in.UserID)
		if err != nil {
			return nil, serviceUserError(ErrUserNotFound)
		}
		if err := s.UnlinkServiceUser(ctx, k, id); err != nil {
			return nil, serviceUserError(err)
		}
		return nil, nil
	})
}

// getServiceUserByPath loads the user named by a path id; malformed ids are
// unknown users.
func getServiceUserByPath(ctx context.Context, s *Service, k ServiceKey, raw string) (User, error) {
	id, err := uuid.Parse(raw)
	if err != nil {
		return User{}, serviceUserError(ErrUserNotFound)
	}
	u, err := s.GetServiceUser(ctx, k, id)
	if err != nil {
		return User{}, serviceUserError(err)
	}
	return u, nil
}
