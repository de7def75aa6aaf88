package redis

import "time"

// Names of the spec §1.8 route groups, the keys of SpecRules. Use them as
// Rule.Name so each group has its own buckets.
const (
	RuleAuth           = "auth"
	RuleDeviceFlow     = "device_flow"
	RuleSelfServiceMFA = "self_service_mfa"
	RuleMFAVerify      = "mfa_verify"
)

// AuthRate is the spec §1.8 limit for auth routes (OAuth start/callback,
// login, register, refresh, logout, revoke, lookup, context, magic link,
// passkey auth, /oauth/token): one request per second, burst 20.
func AuthRate() Rate { return Rate{Every: time.Second, Burst: 20} }

// DeviceFlowRate is the spec §1.8 limit for /auth/device/* and /auth/token:
// one request per 5 seconds, burst 10.
func DeviceFlowRate() Rate { return Rate{Every: 5 * time.Second, Burst: 10} }

// SelfServiceMFARate is the spec §1.8 limit for /api/user/mfa/*: one request
// per 300 ms, burst 5.
func SelfServiceMFARate() Rate { return Rate{Every: 300 * time.Millisecond, Burst: 5} }

// MFAVerifyRate is the spec §1.8 limit for /api/auth/mfa/verify and
// /saml/mfa/verify: one request per second, burst 3.
func MFAVerifyRate() Rate { return Rate{Every: time.Second, Burst: 3} }

// SpecRules returns the spec §1.8 rates keyed by rule name (RuleAuth, ...).
// Each call returns a new map, so callers may change it.
func SpecRules() map[string]Rate {
	return map[string]Rate{
		RuleAuth:           AuthRate(),
		RuleDeviceFlow:     DeviceFlowRate(),
		RuleSelfServiceMFA: SelfServiceMFARate(),
		RuleMFAVerify:      MFAVerifyRate(),
	}
}
