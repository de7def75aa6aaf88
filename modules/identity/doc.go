// Package identity owns authentication (registration, login, password reset, email verification, social login, device authorization, JWT issuing, JWKS and key rotation, refresh rotation, sessions, logout, revocation) and self-service user management (profile, passwords, MFA, identities, provider tokens).
//
// The module starts with its shape only (Deps, New, RegisterRoutes,
// RegisterWorkers, PeriodicJobs); its endpoints arrive with their issues.
package identity
