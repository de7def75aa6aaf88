// Package mail sends transactional email over SMTP and renders the message
// templates (verification, password reset, invitation, SMTP test).
//
// SMTPSender builds an RFC 5322 message (multipart/alternative with a
// quoted-printable text part first and an HTML part second), refuses header
// injection, upgrades with STARTTLS when offered and never sends credentials
// over an unencrypted connection. Its errors say whether retrying can help:
// IsPermanent is true for 5xx replies and for messages or configurations that
// can never be sent, so a River worker cancels the job instead of retrying.
//
// Message bodies carry one-time tokens, so they never appear in errors, and
// the package does not log.
package mail
