package tenancy_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authos/authos/platform/httpapi"
)

// matrixCase is one caller of one endpoint.
type matrixCase struct {
	Name       string
	Caller     func(w world) string // token; "" = none
	WantStatus int
	WantCode   string
	WantMsg    string
}

func none(world) string            { return "" }
func ownerA(w world) string        { return w.OwnerA.Token }
func adminA(w world) string        { return w.AdminA.Token }
func memberA(w world) string       { return w.MemberA.Token }
func adminB(w world) string        { return w.AdminB.Token }
func platformOwner(w world) string { return w.PO.Token }
func stranger(w world) string      { return w.Stranger.Token }

const (
	msgAuthRequired = "Authentication required"
	msgNotMember    = "Not a member of this organization"
	msgNotPO        = "Platform owner access required"
)

func noToken() matrixCase {
	return matrixCase{Name: "NoToken", Caller: none, WantStatus: http.StatusUnauthorized, WantCode: httpapi.CodeUnauthorized, WantMsg: msgAuthRequired}
}

func adminOfOtherOrg() matrixCase {
	return matrixCase{Name: "AdminOfOtherOrg", Caller: adminB, WantStatus: http.StatusForbidden, WantCode: httpapi.CodeForbidden, WantMsg: msgNotMember}
}

func forbiddenCase(name string, caller func(world) string, msg string) matrixCase {
	return matrixCase{Name: name, Caller: caller, WantStatus: http.StatusForbidden, WantCode: httpapi.CodeForbidden, WantMsg: msgNotMember}.withMsg(msg)
}

func (c matrixCase) withMsg(msg string) matrixCase {
	c.WantMsg = msg
	return c
}

func okCase(name string, caller func(world) string) matrixCase {
	return matrixCase{Name: name, Caller: caller, WantStatus: http.StatusOK}
}

// TestAuthorizationMatrix runs every endpoint of the slice against every
// kind of caller. Each case gets a fresh world, so a successful mutation
// never changes what the next case sees. A refused caller never gets the
// organization's data.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	b := setup(t)

	endpoints := []struct {
		Name   string
		Method string
		Path   func(w world) string
		Body   func(w world) any
		Cases  []matrixCase
	}{
		{
			Name: "CreateOrganization", Method: http.MethodPost, Path: func(world) string { return "/api/organizations" },
			Body:  func(world) any { return map[string]string{"slug": newSlug("new"), "name": "New Org"} },
			Cases: []matrixCase{noToken(), okCase("AnyUser", stranger), okCase("PlatformOwner", platformOwner)},
		},
		{
			Name: "ListOrganizations", Method: http.MethodGet, Path: func(world) string { return "/api/organizations" },
			Cases: []matrixCase{noToken(), okCase("AdminOfOtherOrg", adminB), okCase("Member", memberA)},
		},
		{
			Name: "GetOrganization", Method: http.MethodGet, Path: func(w world) string { return "/api/organizations/" + w.A.Slug },
			Cases: []matrixCase{noToken(), adminOfOtherOrg(), forbiddenCase("Stranger", stranger, msgNotMember),
				okCase("Member", memberA), okCase("PlatformOwner", platformOwner)},
		},
		{
			Name: "UpdateOrganization", Method: http.MethodPatch, Path: func(w world) string { return "/api/organizations/" + w.A.Slug },
			Body: func(world) any { return map[string]string{"name": "Renamed"} },
			Cases: []matrixCase{noToken(), adminOfOtherOrg(),
				forbiddenCase("MemberWithoutCapability", memberA, "Insufficient permissions to manage organization settings"),
				okCase("Admin", adminA), okCase("Owner", ownerA), okCase("PlatformOwner", platformOwner)},
		},
		{
			Name: "DeleteOrganization", Method: http.MethodDelete, Path: func(w world) string { return "/api/organizations/" + w.A.Slug },
			Cases: []matrixCase{noToken(), adminOfOtherOrg(), forbiddenCase("PlatformOwner", platformOwner, msgNotMember),
				forbiddenCase("Member", memberA, "Only the organization owner can delete the organization"),
				forbiddenCase("Admin", adminA, "Only the organization owner can delete the organization"),
				okCase("Owner", ownerA)},
		},
		{
			Name: "SelectOrganization", Method: http.MethodPost, Path: func(w world) string { return "/api/organizations/" + w.A.Slug + "/select" },
			Cases: []matrixCase{noToken(), adminOfOtherOrg(), forbiddenCase("PlatformOwner", platformOwner, msgNotMember),
				okCase("Member", memberA), okCase("Owner", ownerA)},
		},
		{
			Name: "ListMembers", Method: http.MethodGet, Path: func(w world) string { return "/api/organizations/" + w.A.Slug + "/members" },
			Cases: []matrixCase{noToken(), adminOfOtherOrg(), forbiddenCase("PlatformOwner", platformOwner, msgNotMember),
				okCase("Member", memberA), okCase("Admin", adminA)},
		},
		{
			Name: "ChangeMemberRole", Method: http.MethodPatch,
			Path: func(w world) string { return "/api/organizations/" + w.A.Slug + "/members/" + w.MemberA.ID.String() },
			Body: func(world) any { return map[string]string{"role": "admin"} },
			Cases: []matrixCase{noToken(), adminOfOtherOrg(), forbiddenCase("PlatformOwner", platformOwner, msgNotMember),
				forbiddenCase("MemberWithoutCapability", memberA, "Insufficient permissions to change member roles"),
				forbiddenCase("AdminGrantingAdmin", adminA, "Only owners can change the roles of owners and admins"),
				okCase("Owner", ownerA)},
		},
		{
			Name: "RemoveMember", Method: http.MethodPost,
			Path: func(w world) string { return "/api/organizations/" + w.A.Slug + "/members/" + w.MemberA.ID.String() },
			Cases: []matrixCase{noToken(), adminOfOtherOrg(), forbiddenCase("PlatformOwner", platformOwner, msgNotMember),
				okCase("Admin", adminA), okCase("Owner", ownerA)},
		},
		{
			Name: "RemoveAdmin", Method: http.MethodPost,
			Path: func(w world) string { return "/api/organizations/" + w.A.Slug + "/members/" + w.AdminA.ID.String() },
			Cases: []matrixCase{noToken(), adminOfOtherOrg(),
				forbiddenCase("MemberWithoutCapability", memberA, "Insufficient permissions to remove members"),
				okCase("Owner", ownerA)},
		},
		{
			Name: "TransferOwnership", Method: http.MethodPost, Path: func(w world) string { return "/api/organizations/" + w.A.Slug + "/transfer-ownership" },
			Body: func(w world) any { return map[string]string{"new_owner_email": w.AdminA.Email} },
			Cases: []matrixCase{noToken(), adminOfOtherOrg(), forbiddenCase("PlatformOwner", platformOwner, msgNotMember),
				forbiddenCase("Member", memberA, "Only the organization owner can transfer ownership"),
				forbiddenCase("Admin", adminA, "Only the organization owner can transfer ownership"),
				okCase("Owner", ownerA)},
		},
	}

	platform := []struct {
		Name   string
		Method string
		Path   func(w world) string
		Body   func(w world) any
	}{
		{"ListTiers", http.MethodGet, func(world) string { return "/api/platform/tiers" }, nil},
		{"ListPlatformOrganizations", http.MethodGet, func(world) string { return "/api/platform/organizations" }, nil},
		{"ApproveOrganization", http.MethodPost, func(w world) string { return "/api/platform/organizations/" + w.B.ID.String() + "/approve" }, nil},
		{"RejectOrganization", http.MethodPost, func(w world) string { return "/api/platform/organizations/" + w.B.ID.String() + "/reject" },
			func(world) any { return map[string]string{"reason": "spam"} }},
		{"SuspendOrganization", http.MethodPost, func(w world) string { return "/api/platform/organizations/" + w.A.ID.String() + "/suspend" }, nil},
		{"ActivateOrganization", http.MethodPost, func(w world) string { return "/api/platform/organizations/" + w.B.ID.String() + "/activate" }, nil},
		{"SetTier", http.MethodPatch, func(w world) string { return "/api/platform/organizations/" + w.A.ID.String() + "/tier" },
			func(world) any { return map[string]any{"tier_id": "tier_pro"} }},
		{"SetFeatures", http.MethodPatch, func(w world) string { return "/api/platform/organizations/" + w.A.ID.String() + "/features" },
			func(world) any { return map[string]any{"allow_scim": true} }},
		{"DeleteOrganization", http.MethodDelete, func(w world) string { return "/api/platform/organizations/" + w.A.ID.String() }, nil},
		{"PromoteOwner", http.MethodPost, func(world) string { return "/api/platform/owners" },
			func(w world) any { return map[string]string{"user_id": w.Stranger.ID.String()} }},
		{"DemoteOwner", http.MethodDelete, func(w world) string { return "/api/platform/owners/" + w.OwnerB.ID.String() }, nil},
		{"ListUsers", http.MethodGet, func(world) string { return "/api/platform/users" }, nil},
		{"SearchUsers", http.MethodGet, func(w world) string { return "/api/platform/users/search?q=owner" }, nil},
		{"GetUser", http.MethodGet, func(w world) string { return "/api/platform/users/" + w.OwnerA.ID.String() }, nil},
	}
	for _, p := range platform {
		ep := struct {
			Name   string
			Method string
			Path   func(w world) string
			Body   func(w world) any
			Cases  []matrixCase
		}{Name: "Platform" + p.Name, Method: p.Method, Path: p.Path, Body: p.Body, Cases: []matrixCase{
			noToken(),
			forbiddenCase("OrgOwner", ownerA, msgNotPO),
			forbiddenCase("OrgAdmin", adminA, msgNotPO),
			okCase("PlatformOwner", platformOwner),
		}}
		endpoints = append(endpoints, ep)
	}

	for _, ep := range endpoints {
		t.Run(ep.Name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range ep.Cases {
				t.Run(tc.Name, func(t *testing.T) {
					t.Parallel()
					w := b.world(t)
					prepareForPlatformCase(t, b, ep.Name, w)
					var body any
					if ep.Body != nil {
						body = ep.Body(w)
					}
					r := b.do(t, ep.Method, ep.Path(w), tc.Caller(w), body)
					if tc.WantStatus == http.StatusOK {
						require.Equal(t, http.StatusOK, r.status, string(r.body))
						return
					}
					requireProblem(t, r, tc.WantStatus, tc.WantCode, tc.WantMsg)
					// A refused caller never sees the organization's data.
					require.NotContains(t, string(r.body), w.A.ID.String())
					require.NotContains(t, string(r.body), w.OwnerA.Email)
				})
			}
		})
	}
}

// prepareForPlatformCase puts the world in the state the platform
// transition under test starts from: B pending for approve/reject, B
// suspended for activate, OwnerB a platform owner to demote.
func prepareForPlatformCase(t *testing.T, b *testBundle, name string, w world) {
	t.Helper()
	switch {
	case strings.HasSuffix(name, "ApproveOrganization"), strings.HasSuffix(name, "RejectOrganization"):
		b.setStatus(t, w.B, "pending")
	case strings.HasSuffix(name, "ActivateOrganization"):
		b.setStatus(t, w.B, "suspended")
	case strings.HasSuffix(name, "DemoteOwner"):
		_, err := b.pool.Exec(t.Context(), `UPDATE users SET is_platform_owner = true WHERE id = $1`, w.OwnerB.ID)
		require.NoError(t, err)
	}
}
