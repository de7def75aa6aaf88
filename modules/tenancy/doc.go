// Package tenancy owns organizations (lifecycle, tiers and limits, members
// and roles, BYOO credentials, SMTP, custom domain, branding, end users),
// services and plans, invitations, API keys and the platform-owner API.
//
// It serves the organization core (spec §4.1), members, roles and
// ownership (§4.2), services and plans (§5) with exact redirect-URI
// matching and hashed client secrets, invitations (§6) with emailed
// single-use tokens and an expiry job, and the platform owner's
// organization lifecycle, tiers, feature overrides, owners and user listing
// (§14). For the identity module it resolves org- and service-scoped logins
// (ResolveScope, MembershipRole) and accepts a verified address's pending
// invitations (AcceptPendingInvitationsTx). Authorization lives in
// the Service: every method takes the caller as an Actor and decides from
// the caller's membership (built-in roles owner > admin > member, where
// owner and admin hold every capability of §1.5) or platform-owner flag.
//
// Users and sessions belong to the identity module. The module reaches them
// only through the Users and Sessions interfaces declared here; cmd/*
// passes adapters over the identity service. Removing a member, deleting a
// service or an organization, and suspending an organization revoke the
// affected sessions in the same transaction and drop them from the session
// cache after the commit, so they fail on the next request.
//
// Audit trail decisions:
//   - Every change records its organization audit action (§12.1) through the
//     events.Recorder in the transaction of the change; member changes also
//     record the webhook-style name (member.role_changed + user.role_updated,
//     member.removed + user.removed, org.updated + organization.updated).
//   - Every platform-owner transition records its platform action (§12.3).
//   - org.deleted is written to the platform stream: an organization's own
//     audit rows are deleted with it (ON DELETE CASCADE), and a deletion
//     nobody can see afterwards is no audit at all.
package tenancy
