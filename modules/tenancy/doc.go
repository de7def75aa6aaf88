// Package tenancy owns organizations (lifecycle, tiers and limits, members and roles, BYOO credentials, SMTP, custom domain, branding, end users), services and plans, invitations, API keys and the platform-owner API.
//
// The module starts with its shape only (Deps, New, RegisterRoutes,
// RegisterWorkers, PeriodicJobs); its endpoints arrive with their issues.
package tenancy
