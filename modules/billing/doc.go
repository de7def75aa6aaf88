// Package billing owns subscriptions and billing (Stripe checkout, billing
// portal, subscriptions) and the inbound Stripe webhook intake.
//
// It serves the Service API's subscription endpoints (spec §9.1,
// /api/service/subscriptions): an API key reads and writes the
// subscriptions of its own service only, one row per (user, service). Plans
// and services belong to the tenancy module and users to the identity
// module: billing reaches them through the Plans and ServiceUsers
// interfaces declared here, which cmd/* wires to adapters over those
// modules. For the other modules it exports the subscriptions of an
// organization's users (tenancy's end-user views), a service's subscription
// counts (compliance's service analytics) and the unlink hook the identity
// module runs when a Service API key unlinks a user
// (ServiceUserUnlinkedTx).
//
// Audit trail: subscription.created, subscription.updated and
// subscription.canceled (spec §7.2, §13.2) are recorded in the transaction
// of the change. A subscription whose status becomes canceled records
// subscription.canceled instead of subscription.updated; deleting a
// subscription (DELETE, or unlinking its user) records subscription.canceled
// with "deleted": true, as the reference names no deletion event.
package billing
