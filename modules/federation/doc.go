// Package federation owns the SAML 2.0 identity provider and SCIM 2.0 provisioning.
//
// The module starts with its shape only (Deps, New, RegisterRoutes,
// RegisterWorkers, PeriodicJobs); its endpoints arrive with their issues.
package federation
