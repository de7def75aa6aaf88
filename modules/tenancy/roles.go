package tenancy

// Role is a member's role in an organization. Only the built-in roles exist
// for now; custom roles (spec §4.2) come with organization_roles.
type Role string

// Built-in roles, strongest first.
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
)

// ParseRole returns the built-in role named s, or ErrInvalidRole.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleOwner, RoleAdmin, RoleMember:
		return r, nil
	}
	return "", ErrInvalidRole
}

// privileged reports whether r is owner or admin: changing or removing such
// a member is reserved to the owner.
func (r Role) privileged() bool { return r == RoleOwner || r == RoleAdmin }

// Capability is a permission an organization role grants (spec §1.5).
type Capability string

// Capabilities.
const (
	CapOrgSettingsManage  Capability = "org.settings.manage"
	CapOrgMembersView     Capability = "org.members.view"
	CapOrgMembersManage   Capability = "org.members.manage"
	CapOrgRolesManage     Capability = "org.roles.manage"
	CapBillingManage      Capability = "billing.manage"
	CapServicesView       Capability = "services.view"
	CapServicesCreate     Capability = "services.create"
	CapServicesManage     Capability = "services.manage"
	CapEndUsersView       Capability = "end_users.view"
	CapEndUsersManage     Capability = "end_users.manage"
	CapWebhooksManage     Capability = "webhooks.manage"
	CapIntegrationsManage Capability = "integrations.manage"
	CapAuditLogsView      Capability = "audit_logs.view"
	CapRiskEventsView     Capability = "risk_events.view"
	CapRiskPoliciesManage Capability = "risk_policies.manage"
)

// Capabilities lists every capability, in the order of spec §1.5.
func Capabilities() []Capability {
	return []Capability{
		CapOrgSettingsManage, CapOrgMembersView, CapOrgMembersManage, CapOrgRolesManage, CapBillingManage,
		CapServicesView, CapServicesCreate, CapServicesManage, CapEndUsersView, CapEndUsersManage,
		CapWebhooksManage, CapIntegrationsManage, CapAuditLogsView, CapRiskEventsView, CapRiskPoliciesManage,
	}
}

// Grants reports whether role r holds capability c: owner and admin hold
// every capability, member none (spec §1.5). Owner-only operations are
// checked separately, whatever the capabilities.
func (r Role) Grants(_ Capability) bool { return r.privileged() }
