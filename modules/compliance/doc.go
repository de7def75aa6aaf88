// Package compliance owns the audit trails (organization and platform audit
// logs), the Audit Events Reference catalogue, webhooks, analytics and
// privacy (GDPR export and erasure).
//
// It implements events.Recorder: every module records its domain events
// through it inside its own transaction, and the recorder writes the audit
// row in that same transaction (webhook fan-out joins in the webhooks issue).
// The catalogue in catalogue.go is the single list of event names; recording
// an unknown name is an error, so a typo cannot create a silent new stream.
package compliance
