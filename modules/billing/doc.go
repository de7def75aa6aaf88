// Package billing owns subscriptions and billing (Stripe checkout, billing portal, subscriptions) and the inbound Stripe webhook intake.
//
// The module starts with its shape only (Deps, New, RegisterRoutes,
// RegisterWorkers, PeriodicJobs); its endpoints arrive with their issues.
package billing
