package hosted

import (
	"net/http"
)

// LoginData is the sign-in page (/authorize): e-mail and password, then
// the organization's identity providers.
type LoginData struct {
	Page
	// Action is where the form POSTs (email, password, csrf_token and the
	// Hidden fields); empty posts back to the page's own URL.
	Action string
	// Email prefills the e-mail field, e.g. after a failed attempt.
	Email string
	// Hidden fields are carried through the form unchanged.
	Hidden []HiddenField
	// Providers are shown as "Continue with …" links.
	Providers []ProviderLink
	// ForgotPasswordURL, when set, shows a "Forgot your password?" link.
	ForgotPasswordURL string
}

// LoginPage writes the sign-in page with the given status.
func (r *Renderer) LoginPage(w http.ResponseWriter, status int, data LoginData) {
	v := r.newView(data.Page, "Sign in")
	v.Hidden = hiddenFields(data.Hidden)
	v.Providers = providerViews(data.Providers)
	v.SignIn = signIn{Action: data.Action, Email: data.Email, ForgotPasswordURL: data.ForgotPasswordURL}
	v.Data = data
	r.render(w, status, tmplLogin, v, data.FormActionOrigins)
}

// MFAChallengeData is the second-factor page shown after a password or
// provider sign-in when the user has MFA. It has a form for a 6-digit
// authenticator code and, behind a disclosure, one for a backup code; both
// POST "code" to Action.
type MFAChallengeData struct {
	Page
	// Action is where the forms POST; empty posts back to the page's URL.
	Action string
	// Hidden fields (typically the pre-auth token) are carried through
	// both forms.
	Hidden []HiddenField
}

// MFAChallengePage writes the second-factor page with the given status.
func (r *Renderer) MFAChallengePage(w http.ResponseWriter, status int, data MFAChallengeData) {
	v := r.newView(data.Page, "Two-factor authentication")
	v.Hidden = hiddenFields(data.Hidden)
	v.Data = data
	r.render(w, status, tmplMFA, v, data.FormActionOrigins)
}

// ActivateData is the device activation page (/activate). Without Verified
// it asks for the user code shown on the device (POSTed as user_code to
// Action). With Verified it shows which service of which organization the
// device is signing in to, the code to compare, and the sign-in choices: a
// password form POSTing to LoginAction and the provider links.
type ActivateData struct {
	Page
	// Action is where the user-code form POSTs; empty posts back to the
	// page's URL.
	Action string
	// UserCode prefills the code field (from ?user_code=) and, once
	// verified, is shown for comparison with the device.
	UserCode string
	// Verified switches to the sign-in state.
	Verified bool
	// ServiceName is the display name of the service the device belongs to.
	ServiceName string
	// LoginAction is where the verified state's password form POSTs.
	LoginAction string
	// Email prefills the verified state's e-mail field.
	Email string
	// Hidden fields are carried through the verified state's password
	// form (typically user_code, org, service).
	Hidden []HiddenField
	// Providers are the verified state's provider links.
	Providers []ProviderLink
	// ForgotPasswordURL, when set, shows a "Forgot your password?" link in
	// the verified state.
	ForgotPasswordURL string
}

// ActivatePage writes the device activation page with the given status.
func (r *Renderer) ActivatePage(w http.ResponseWriter, status int, data ActivateData) {
	title := "Activate your device"
	if data.Verified {
		title = "Sign in to connect your device"
	}
	v := r.newView(data.Page, title)
	if data.Verified {
		v.Hidden = hiddenFields(data.Hidden)
		v.Providers = providerViews(data.Providers)
		v.SignIn = signIn{Action: data.LoginAction, Email: data.Email, ForgotPasswordURL: data.ForgotPasswordURL}
	}
	v.Data = data
	r.render(w, status, tmplActivate, v, data.FormActionOrigins)
}

// ActivateSuccessData is the page shown once a device has been authorized
// (/activate/success).
type ActivateSuccessData struct {
	Page
	// ServiceName names the app the user goes back to; empty says "your
	// device".
	ServiceName string
}

// ActivateSuccessPage writes the device-connected page with the given status.
func (r *Renderer) ActivateSuccessPage(w http.ResponseWriter, status int, data ActivateSuccessData) {
	v := r.newView(data.Page, "Device connected")
	v.Data = data
	r.render(w, status, tmplActivateSuccess, v, data.FormActionOrigins)
}

// MessageData is a generic result page: e-mail verification results,
// "Authentication Failed" and other end states of a browser flow. The
// Page's Message is the text; when OK is false it is shown in the alert
// region (unless Error is also set).
type MessageData struct {
	Page
	// OK says whether the flow succeeded.
	OK bool
	// LinkURL, when set, shows a button to continue; LinkText is its label
	// ("Continue" when empty).
	LinkURL, LinkText string
}

// MessagePage writes the result page with the given status.
func (r *Renderer) MessagePage(w http.ResponseWriter, status int, data MessageData) {
	title := "Done"
	if !data.OK {
		title = "Something went wrong"
	}
	v := r.newView(data.Page, title)
	if !data.OK && v.Error == "" {
		v.Error, v.Message = v.Message, ""
	}
	if data.LinkText == "" {
		data.LinkText = "Continue"
	}
	v.Data = data
	r.render(w, status, tmplMessage, v, data.FormActionOrigins)
}

// ResetPasswordData is the "choose a new password" page reached from the
// reset e-mail. The form POSTs password, password_confirm, token and the
// Hidden fields to Action.
type ResetPasswordData struct {
	Page
	// Action is where the form POSTs; empty posts back to the page's URL.
	Action string
	// Token is the reset token from the e-mailed link, sent as "token".
	Token string
	// Hidden fields are carried through the form unchanged.
	Hidden []HiddenField
	// MinLength and MaxLength bound the password in the browser (the
	// server checks again); zero means 8 and 128.
	MinLength, MaxLength int
}

// ResetPasswordPage writes the new-password page with the given status.
func (r *Renderer) ResetPasswordPage(w http.ResponseWriter, status int, data ResetPasswordData) {
	v := r.newView(data.Page, "Choose a new password")
	hidden := data.Hidden
	if data.Token != "" {
		hidden = append([]HiddenField{{Name: "token", Value: data.Token}}, hidden...)
	}
	v.Hidden = hiddenFields(hidden)
	if data.MinLength <= 0 {
		data.MinLength = 8
	}
	if data.MaxLength <= 0 {
		data.MaxLength = 128
	}
	v.Data = data
	r.render(w, status, tmplResetPassword, v, data.FormActionOrigins)
}

// InvitationAcceptData is the invitation page reached from the invitation
// e-mail. When the visitor is signed in as the invitee it has Accept and
// Decline buttons, each a POST form carrying the Hidden fields (typically
// the invitation token); with NeedsSignIn it shows a "Sign in to accept"
// link instead of the Accept button.
type InvitationAcceptData struct {
	Page
	// OrgName is the inviting organization; empty means Branding.OrgName.
	OrgName string
	// Role is the role offered (owner, admin, member or a custom role).
	Role string
	// InviterName and InviterEmail say who sent the invitation; either may
	// be empty.
	InviterName, InviterEmail string
	// Email is the invited address.
	Email string
	// AcceptAction and DeclineAction are the forms' POST targets; an empty
	// DeclineAction hides the Decline button.
	AcceptAction, DeclineAction string
	// Hidden fields are carried through both forms.
	Hidden []HiddenField
	// NeedsSignIn shows the sign-in state: a link to SignInURL instead of
	// the Accept form.
	NeedsSignIn bool
	// SignInURL is where the visitor signs in (and comes back from).
	SignInURL string
}

// InvitationAcceptPage writes the invitation page with the given status.
func (r *Renderer) InvitationAcceptPage(w http.ResponseWriter, status int, data InvitationAcceptData) {
	v := r.newView(data.Page, "")
	if data.OrgName == "" {
		data.OrgName = v.Brand.OrgName
	}
	if v.Title == "" {
		v.Title = "Join " + data.OrgName
	}
	v.Hidden = hiddenFields(data.Hidden)
	v.Data = data
	r.render(w, status, tmplInvitation, v, data.FormActionOrigins)
}
