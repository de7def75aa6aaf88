package tenancy_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/authos/authos/jobs"
	"github.com/authos/authos/modules/tenancy"
	"github.com/authos/authos/platform/crypto"
	"github.com/authos/authos/platform/httpapi"
)

// ---- fixtures

type invitationJSON struct {
	ID          string     `json:"id"`
	OrgID       string     `json:"org_id"`
	Email       string     `json:"email"`
	Role        string     `json:"role"`
	InvitedBy   *string    `json:"invited_by"`
	Status      string     `json:"status"`
	ExpiresAt   time.Time  `json:"expires_at"`
	CreatedAt   time.Time  `json:"created_at"`
	RespondedAt *time.Time `json:"responded_at"`
}

type inviterJSON struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

type createdInvitationJSON struct {
	Invitation invitationJSON `json:"invitation"`
	Inviter    inviterJSON    `json:"inviter"`
	Token      string         `json:"token"`
}

type orgInvitationJSON struct {
	Invitation invitationJSON `json:"invitation"`
	Inviter    *inviterJSON   `json:"inviter"`
}

type acceptedJSON struct {
	Invitation   invitationJSON `json:"invitation"`
	Organization orgBody        `json:"organization"`
	Membership   membershipBody `json:"membership"`
}

type myInvitationJSON struct {
	ID               string    `json:"id"`
	Email            string    `json:"email"`
	Role             string    `json:"role"`
	ExpiresAt        time.Time `json:"expires_at"`
	OrganizationSlug string    `json:"organization_slug"`
	OrganizationName string    `json:"organization_name"`
}

// invitationsPath is /api/organizations/{slug}/invitations, plus rest.
func invitationsPath(o org, rest ...string) string {
	return "/api/organizations/" + o.Slug + "/invitations" + strings.Join(append([]string{""}, rest...), "/")
}

// setMaxUsers overrides o's member limit.
func (b *testBundle) setMaxUsers(t *testing.T, o org, n int) {
	t.Helper()
	_, err := b.pool.Exec(t.Context(), `UPDATE organizations SET max_users = $2 WHERE id = $1`, o.ID, n)
	require.NoError(t, err)
}

// invite invites email to o through the API as inviter.
func (b *testBundle) invite(t *testing.T, o org, inviter account, email, role string) createdInvitationJSON {
	t.Helper()
	r := b.do(t, http.MethodPost, invitationsPath(o), inviter.Token, map[string]string{"email": email, "role": role})
	got := decode[createdInvitationJSON](t, r, http.StatusCreated)
	require.NotEmpty(t, got.Token)
	return got
}

// invitationStatus reads an invitation's stored status.
func (b *testBundle) invitationStatus(t *testing.T, id string) string {
	t.Helper()
	var status string
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT status FROM organization_invitations WHERE id = $1`, id).Scan(&status))
	return status
}

// sentEmail is an email.send job with its sealed data opened.
type sentEmail struct {
	Args jobs.EmailSendArgs
	Raw  string // the job's args as stored
	Data map[string]any
}

// invitationEmails returns the email.send jobs to `to`, oldest first.
func (b *testBundle) invitationEmails(t *testing.T, to string) []sentEmail {
	t.Helper()
	rows, err := b.pool.Query(t.Context(), `SELECT args::text FROM river_job WHERE kind = 'email.send' ORDER BY id`)
	require.NoError(t, err)
	raws, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	var out []sentEmail
	for _, raw := range raws {
		var a jobs.EmailSendArgs
		require.NoError(t, json.Unmarshal([]byte(raw), &a))
		if a.To != to {
			continue
		}
		data, err := b.ring.Open(a.SealedData, []byte("email.send:"+a.To+":invitation"))
		require.NoError(t, err)
		e := sentEmail{Args: a, Raw: raw}
		require.NoError(t, json.Unmarshal(data, &e.Data))
		out = append(out, e)
	}
	return out
}

// invFixture is the standard world plus a registered invitee with a
// pending member invitation to A (whose team limit leaves room).
type invFixture struct {
	w       world
	invitee account
	inv     createdInvitationJSON
}

func (b *testBundle) invFixture(t *testing.T) invFixture {
	t.Helper()
	w := b.world(t)
	b.setMaxUsers(t, w.A, 10)
	invitee := b.user(t, "invitee")
	return invFixture{w: w, invitee: invitee, inv: b.invite(t, w.A, w.OwnerA, invitee.Email, "member")}
}

// ---- authorization matrix

type invCase struct {
	Name       string
	Caller     func(f invFixture) string
	WantStatus int
	WantCode   string
	WantMsg    string
}

func invRefused(name string, caller func(f invFixture) string, status int, code, msg string) invCase {
	return invCase{Name: name, Caller: caller, WantStatus: status, WantCode: code, WantMsg: msg}
}

func invOK(name string, caller func(f invFixture) string, status int) invCase {
	return invCase{Name: name, Caller: caller, WantStatus: status}
}

func fNone(invFixture) string       { return "" }
func fOwnerA(f invFixture) string   { return f.w.OwnerA.Token }
func fAdminA(f invFixture) string   { return f.w.AdminA.Token }
func fMemberA(f invFixture) string  { return f.w.MemberA.Token }
func fAdminB(f invFixture) string   { return f.w.AdminB.Token }
func fPO(f invFixture) string       { return f.w.PO.Token }
func fInvitee(f invFixture) string  { return f.invitee.Token }
func fStranger(f invFixture) string { return f.w.Stranger.Token }

const (
	msgCreateInvitations = "Insufficient permissions to create invitations"
	msgViewInvitations   = "Insufficient permissions to view invitations"
	msgManageInvitations = "Insufficient permissions to manage invitations"
	msgOtherEmail        = "This invitation belongs to another email address"
	msgInvitationGone    = "Invitation not found or already processed"
)

// TestInvitationAuthorizationMatrix runs every invitation endpoint against
// every kind of caller, each case on a fresh fixture. A refused caller gets
// neither the invitee's address nor the token, and the invitation stays
// pending.
func TestInvitationAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	b := setup(t)

	unauth := invRefused("NoToken", fNone, http.StatusUnauthorized, httpapi.CodeUnauthorized, msgAuthRequired)
	otherOrg := invRefused("AdminOfOtherOrg", fAdminB, http.StatusForbidden, httpapi.CodeForbidden, msgNotMember)
	po := invRefused("PlatformOwner", fPO, http.StatusForbidden, httpapi.CodeForbidden, msgNotMember)
	otherEmail := invRefused("OtherUser", fStranger, http.StatusForbidden, httpapi.CodeForbidden, msgOtherEmail)
	orgAdmin := invRefused("InvitingAdmin", fOwnerA, http.StatusForbidden, httpapi.CodeForbidden, msgOtherEmail)
	idPath := func(f invFixture) string { return invitationsPath(f.w.A, f.inv.Invitation.ID) }
	tokenBody := func(f invFixture) any { return map[string]string{"token": f.inv.Token} }

	endpoints := []struct {
		Name   string
		Method string
		Path   func(f invFixture) string
		Body   func(f invFixture) any
		Cases  []invCase
	}{
		{
			Name: "CreateInvitation", Method: http.MethodPost, Path: func(f invFixture) string { return invitationsPath(f.w.A) },
			Body: func(invFixture) any {
				return map[string]string{"email": "new-" + uuid.NewString()[:8] + "@example.test", "role": "member"}
			},
			Cases: []invCase{unauth, otherOrg, po,
				invRefused("MemberWithoutCapability", fMemberA, http.StatusForbidden, httpapi.CodeForbidden, msgCreateInvitations),
				invOK("Admin", fAdminA, http.StatusCreated), invOK("Owner", fOwnerA, http.StatusCreated)},
		},
		{
			Name: "ListInvitations", Method: http.MethodGet, Path: func(f invFixture) string { return invitationsPath(f.w.A) },
			Cases: []invCase{unauth, otherOrg, po,
				invRefused("MemberWithoutCapability", fMemberA, http.StatusForbidden, httpapi.CodeForbidden, msgViewInvitations),
				invOK("Admin", fAdminA, http.StatusOK), invOK("Owner", fOwnerA, http.StatusOK)},
		},
		{
			Name: "CancelInvitation", Method: http.MethodPost, Path: idPath,
			Cases: []invCase{unauth, otherOrg, po,
				invRefused("MemberWithoutCapability", fMemberA, http.StatusForbidden, httpapi.CodeForbidden, msgManageInvitations),
				invRefused("InviteeIsNotAnAdmin", fInvitee, http.StatusForbidden, httpapi.CodeForbidden, msgNotMember),
				invOK("Admin", fAdminA, http.StatusOK), invOK("Owner", fOwnerA, http.StatusOK)},
		},
		{
			// An admin of B naming A's invitation under B's own slug finds nothing.
			Name: "CancelThroughOtherOrg", Method: http.MethodPost,
			Path:  func(f invFixture) string { return invitationsPath(f.w.B, f.inv.Invitation.ID) },
			Cases: []invCase{invRefused("AdminOfOtherOrg", fAdminB, http.StatusNotFound, httpapi.CodeNotFound, msgInvitationGone)},
		},
		{
			Name: "AcceptOnBehalf", Method: http.MethodPost, Path: func(f invFixture) string { return invitationsPath(f.w.A, f.inv.Invitation.ID, "accept") },
			Cases: []invCase{unauth, otherOrg, po,
				invRefused("MemberWithoutCapability", fMemberA, http.StatusForbidden, httpapi.CodeForbidden, msgManageInvitations),
				invOK("Admin", fAdminA, http.StatusOK), invOK("Owner", fOwnerA, http.StatusOK)},
		},
		{
			Name: "AcceptOnBehalfThroughOtherOrg", Method: http.MethodPost,
			Path:  func(f invFixture) string { return invitationsPath(f.w.B, f.inv.Invitation.ID, "accept") },
			Cases: []invCase{invRefused("AdminOfOtherOrg", fAdminB, http.StatusNotFound, httpapi.CodeNotFound, msgInvitationGone)},
		},
		{
			Name: "ListMyInvitations", Method: http.MethodGet, Path: func(invFixture) string { return "/api/invitations" },
			Cases: []invCase{unauth, invOK("Invitee", fInvitee, http.StatusOK), invOK("OtherUser", fStranger, http.StatusOK)},
		},
		{
			Name: "AcceptByToken", Method: http.MethodPost, Path: func(invFixture) string { return "/api/invitations/accept" }, Body: tokenBody,
			Cases: []invCase{unauth, otherEmail, orgAdmin, invOK("Invitee", fInvitee, http.StatusOK)},
		},
		{
			Name: "AcceptByID", Method: http.MethodPost,
			Path:  func(f invFixture) string { return "/api/invitations/" + f.inv.Invitation.ID + "/accept" },
			Cases: []invCase{unauth, otherEmail, orgAdmin, invOK("Invitee", fInvitee, http.StatusOK)},
		},
		{
			Name: "DeclineByID", Method: http.MethodPost,
			Path:  func(f invFixture) string { return "/api/invitations/" + f.inv.Invitation.ID + "/decline" },
			Cases: []invCase{unauth, otherEmail, orgAdmin, invOK("Invitee", fInvitee, http.StatusOK)},
		},
		{
			Name: "DeclineByToken", Method: http.MethodPost, Path: func(invFixture) string { return "/api/invitations/decline" }, Body: tokenBody,
			Cases: []invCase{invOK("Anonymous", fNone, http.StatusOK), invOK("AnyUser", fStranger, http.StatusOK)},
		},
	}

	for _, ep := range endpoints {
		t.Run(ep.Name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range ep.Cases {
				t.Run(tc.Name, func(t *testing.T) {
					t.Parallel()
					f := b.invFixture(t)
					var body any
					if ep.Body != nil {
						body = ep.Body(f)
					}
					r := b.do(t, ep.Method, ep.Path(f), tc.Caller(f), body)
					if tc.WantCode == "" {
						require.Equal(t, tc.WantStatus, r.status, string(r.body))
						return
					}
					requireProblem(t, r, tc.WantStatus, tc.WantCode, tc.WantMsg)
					require.NotContains(t, string(r.body), f.invitee.Email)
					require.NotContains(t, string(r.body), f.inv.Token)
					require.Equal(t, "pending", b.invitationStatus(t, f.inv.Invitation.ID))
					require.Empty(t, b.role(t, f.w.A, f.invitee))
				})
			}
		})
	}
}

// ---- create and list

func TestCreateInvitation(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("StoresTheHashReturnsTheTokenOnceAndEmailsIt", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		email := "Invitee-" + uuid.NewString()[:8] + "@Example.test"
		r := b.do(t, http.MethodPost, invitationsPath(w.A), w.AdminA.Token, map[string]string{"email": "  " + email + " ", "role": "member"})
		require.Equal(t, "no-store", r.header.Get("Cache-Control"))
		got := decode[createdInvitationJSON](t, r, http.StatusCreated)
		inv := got.Invitation
		require.Equal(t, w.A.ID.String(), inv.OrgID)
		require.Equal(t, email, inv.Email)
		require.Equal(t, "member", inv.Role)
		require.Equal(t, "pending", inv.Status)
		require.Equal(t, w.AdminA.ID.String(), *inv.InvitedBy)
		require.Equal(t, b.now, inv.CreatedAt.UTC())
		require.Equal(t, b.now.Add(7*24*time.Hour), inv.ExpiresAt.UTC())
		require.Nil(t, inv.RespondedAt)
		require.Equal(t, inviterJSON{ID: w.AdminA.ID.String(), Email: w.AdminA.Email}, got.Inviter)
		require.Len(t, got.Token, 43, "32 random bytes, base64url")
		require.NotContains(t, string(r.body), crypto.HashToken(got.Token), "the hash is never returned")

		var hash string
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT token_hash FROM organization_invitations WHERE id = $1`, inv.ID).Scan(&hash))
		require.Equal(t, crypto.HashToken(got.Token), hash)

		mails := b.invitationEmails(t, email)
		require.Len(t, mails, 1)
		m := mails[0]
		require.Equal(t, "invitation", m.Args.Template)
		require.Equal(t, w.A.ID, *m.Args.OrgID)
		require.NotContains(t, m.Raw, got.Token, "the token only travels sealed")
		require.Equal(t, testDashboardURL+"/invitations/accept?token="+got.Token, m.Data["Link"])
		require.Equal(t, "Org "+w.A.Slug, m.Data["OrgName"])
		require.Equal(t, w.AdminA.Email, m.Data["InviterEmail"])
		require.Equal(t, "member", m.Data["Role"])
		require.Equal(t, "7 days", m.Data["ExpiresIn"])

		audit := b.orgAudit(t, w.A.ID, "user.invited")
		require.Len(t, audit, 1)
		require.Equal(t, map[string]any{"email": email, "role": "member", "invitation_id": inv.ID}, audit[0].Details)
		require.Equal(t, w.AdminA.ID, *audit[0].ActorID)
	})

	t.Run("ListNeverShowsTheToken", func(t *testing.T) {
		t.Parallel()
		f := b.invFixture(t)
		second := b.invite(t, f.w.A, f.w.AdminA, "second-"+uuid.NewString()[:8]+"@example.test", "admin")
		r := b.do(t, http.MethodGet, invitationsPath(f.w.A), f.w.AdminA.Token, nil)
		list := decode[[]orgInvitationJSON](t, r, http.StatusOK)
		require.Len(t, list, 2)
		require.Equal(t, second.Invitation.ID, list[0].Invitation.ID, "newest first")
		require.Equal(t, "admin", list[0].Invitation.Role)
		require.Equal(t, f.w.AdminA.Email, list[0].Inviter.Email)
		require.Equal(t, f.inv.Invitation.ID, list[1].Invitation.ID)
		for _, secret := range []string{f.inv.Token, second.Token, crypto.HashToken(f.inv.Token), crypto.HashToken(second.Token)} {
			require.NotContains(t, string(r.body), secret)
		}
		require.NotContains(t, string(r.body), `"token"`)

		page := decode[[]orgInvitationJSON](t, b.do(t, http.MethodGet, invitationsPath(f.w.A)+"?page=2&limit=1", f.w.OwnerA.Token, nil), http.StatusOK)
		require.Len(t, page, 1)
		require.Equal(t, f.inv.Invitation.ID, page[0].Invitation.ID)
	})

	t.Run("RoleRules", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		post := func(tok, role string) response {
			return b.do(t, http.MethodPost, invitationsPath(w.A), tok, map[string]string{"email": "r-" + uuid.NewString()[:8] + "@example.test", "role": role})
		}
		const invalid = "Invalid role. Choose admin, member, or a custom organization role."
		requireProblem(t, post(w.OwnerA.Token, "owner"), http.StatusBadRequest, httpapi.CodeBadRequest, invalid)
		requireProblem(t, post(w.OwnerA.Token, "superuser"), http.StatusBadRequest, httpapi.CodeBadRequest, invalid)
		require.Equal(t, http.StatusCreated, post(w.AdminA.Token, "admin").status, "admins may invite admins")
		require.Equal(t, http.StatusCreated, post(w.OwnerA.Token, "admin").status)
		requireProblem(t, post(w.MemberA.Token, "member"), http.StatusForbidden, httpapi.CodeForbidden, msgCreateInvitations)
	})

	t.Run("RefusesMembersAndDuplicates", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		r := b.do(t, http.MethodPost, invitationsPath(w.A), w.OwnerA.Token, map[string]string{"email": strings.ToUpper(w.MemberA.Email), "role": "member"})
		requireProblem(t, r, http.StatusBadRequest, httpapi.CodeDuplicateConstraint, "User is already a member of this organization")

		email := "dup-" + uuid.NewString()[:8] + "@example.test"
		b.invite(t, w.A, w.OwnerA, email, "member")
		r = b.do(t, http.MethodPost, invitationsPath(w.A), w.AdminA.Token, map[string]string{"email": strings.ToUpper(email), "role": "admin"})
		requireProblem(t, r, http.StatusBadRequest, httpapi.CodeBadRequest, "Invitation already sent")
		// Another organization may invite the same address.
		b.invite(t, w.B, w.OwnerB, email, "member")
		require.Len(t, b.invitationEmails(t, email), 2)
	})

	t.Run("InvalidEmail", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		for _, email := range []string{"not-an-email", "a b@example.test", "<x@example.test>", "@example.test"} {
			r := b.do(t, http.MethodPost, invitationsPath(w.A), w.OwnerA.Token, map[string]string{"email": email, "role": "member"})
			requireFieldError(t, r, "body.email")
		}
	})

	t.Run("OrganizationMustBeActive", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		b.setStatus(t, w.A, tenancy.StatusSuspended)
		r := b.do(t, http.MethodPost, invitationsPath(w.A), w.OwnerA.Token, map[string]string{"email": "x-" + uuid.NewString()[:8] + "@example.test", "role": "member"})
		requireProblem(t, r, http.StatusForbidden, tenancy.CodeOrganizationNotActive, "Organization is not active. Current status: suspended")
	})

	t.Run("RefusedWithoutAMailQueue", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		mod, err := tenancy.New(tenancy.Deps{Pool: b.pool, Recorder: b.audit.Recorder(), Users: dbUsers{pool: b.pool}, Sessions: b.sessions})
		require.NoError(t, err)
		_, err = mod.Service().CreateInvitation(t.Context(), tenancy.Actor{UserID: w.OwnerA.ID, Email: w.OwnerA.Email}, w.A.Slug, "q@example.test", "member")
		require.Error(t, err)
		var n int
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM organization_invitations WHERE org_id = $1`, w.A.ID).Scan(&n))
		require.Zero(t, n)
	})
}

// TestCreateInvitationReplacesAnExpiredOne uses its own bundle: it moves
// the clock.
func TestCreateInvitationReplacesAnExpiredOne(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.world(t)
	email := "again-" + uuid.NewString()[:8] + "@example.test"
	first := b.invite(t, w.A, w.OwnerA, email, "member")
	b.advance(7*24*time.Hour + time.Second)
	second := b.invite(t, w.A, w.OwnerA, email, "admin")
	require.Equal(t, "expired", b.invitationStatus(t, first.Invitation.ID))
	require.Equal(t, "pending", b.invitationStatus(t, second.Invitation.ID))
	expired := b.orgAudit(t, w.A.ID, "invitation.expired")
	require.Len(t, expired, 1)
	require.Equal(t, first.Invitation.ID, expired[0].TargetID)
	require.Equal(t, "system", expired[0].ActorType)
	require.Nil(t, expired[0].ActorID)
}

// ---- accept

func TestAcceptInvitation(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("ByTokenWithTheInvitedEmail", func(t *testing.T) {
		t.Parallel()
		f := b.invFixture(t)
		got := decode[acceptedJSON](t, b.do(t, http.MethodPost, "/api/invitations/accept", f.invitee.Token,
			map[string]string{"token": f.inv.Token}), http.StatusOK)
		require.Equal(t, "accepted", got.Invitation.Status)
		require.NotNil(t, got.Invitation.RespondedAt)
		require.Equal(t, f.w.A.Slug, got.Organization.Slug)
		require.Equal(t, f.invitee.ID.String(), got.Membership.UserID)
		require.Equal(t, "member", got.Membership.Role)
		require.Equal(t, "member", b.role(t, f.w.A, f.invitee))
		require.Equal(t, "accepted", b.invitationStatus(t, f.inv.Invitation.ID))

		joined := b.orgAudit(t, f.w.A.ID, "user.joined")
		require.Len(t, joined, 1)
		require.Equal(t, map[string]any{"invitation_id": f.inv.Invitation.ID, "user_email": f.invitee.Email}, joined[0].Details)
		require.Equal(t, f.invitee.ID, *joined[0].ActorID)
		require.Equal(t, f.invitee.ID.String(), joined[0].TargetID)
		accepted := b.orgAudit(t, f.w.A.ID, "invitation.accepted")
		require.Len(t, accepted, 1)
		require.Equal(t, f.inv.Invitation.ID, accepted[0].TargetID)
		added := b.orgAudit(t, f.w.A.ID, "member.added")
		require.Len(t, added, 1)
		require.Equal(t, "member", added[0].Details["role"])
		require.Equal(t, "tenancy-test", added[0].UserAgent)
	})

	t.Run("ByIDWithTheEmailInAnotherCase", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		b.setMaxUsers(t, w.A, 10)
		invitee := b.user(t, "cased")
		inv := b.invite(t, w.A, w.OwnerA, strings.ToUpper(invitee.Email), "admin")
		got := decode[acceptedJSON](t, b.do(t, http.MethodPost, "/api/invitations/"+inv.Invitation.ID+"/accept", invitee.Token, nil), http.StatusOK)
		require.Equal(t, "admin", got.Membership.Role)
		require.Equal(t, "admin", b.role(t, w.A, invitee))
	})

	t.Run("AnotherEmailIsRefused", func(t *testing.T) {
		t.Parallel()
		f := b.invFixture(t)
		r := b.do(t, http.MethodPost, "/api/invitations/accept", f.w.MemberA.Token, map[string]string{"token": f.inv.Token})
		requireProblem(t, r, http.StatusForbidden, httpapi.CodeForbidden, msgOtherEmail)
		require.Equal(t, "pending", b.invitationStatus(t, f.inv.Invitation.ID))
	})

	t.Run("UnknownTokenAndIDAreNotFound", func(t *testing.T) {
		t.Parallel()
		f := b.invFixture(t)
		requireProblem(t, b.do(t, http.MethodPost, "/api/invitations/accept", f.invitee.Token, map[string]string{"token": f.inv.Token + "x"}),
			http.StatusNotFound, httpapi.CodeNotFound, msgInvitationGone)
		requireProblem(t, b.do(t, http.MethodPost, "/api/invitations/"+uuid.NewString()+"/accept", f.invitee.Token, nil),
			http.StatusNotFound, httpapi.CodeNotFound, msgInvitationGone)
		requireProblem(t, b.do(t, http.MethodPost, "/api/invitations/not-a-uuid/accept", f.invitee.Token, nil),
			http.StatusNotFound, httpapi.CodeNotFound, msgInvitationGone)
	})

	t.Run("SecondAcceptIsNotFound", func(t *testing.T) {
		t.Parallel()
		f := b.invFixture(t)
		body := map[string]string{"token": f.inv.Token}
		require.Equal(t, http.StatusOK, b.do(t, http.MethodPost, "/api/invitations/accept", f.invitee.Token, body).status)
		requireProblem(t, b.do(t, http.MethodPost, "/api/invitations/accept", f.invitee.Token, body), http.StatusNotFound, httpapi.CodeNotFound, msgInvitationGone)
		requireProblem(t, b.do(t, http.MethodPost, "/api/invitations/"+f.inv.Invitation.ID+"/accept", f.invitee.Token, nil),
			http.StatusNotFound, httpapi.CodeNotFound, msgInvitationGone)
		require.Len(t, b.orgAudit(t, f.w.A.ID, "user.joined"), 1)
	})

	t.Run("TeamLimit", func(t *testing.T) {
		t.Parallel()
		w := b.world(t) // A has 3 members: the free tier's limit
		invitee := b.user(t, "over")
		inv := b.invite(t, w.A, w.OwnerA, invitee.Email, "member")
		r := b.do(t, http.MethodPost, "/api/invitations/accept", invitee.Token, map[string]string{"token": inv.Token})
		requireProblem(t, r, http.StatusBadRequest, tenancy.CodeTeamLimitExceeded, "Team limit reached")
		require.Equal(t, "pending", b.invitationStatus(t, inv.Invitation.ID))
		require.Empty(t, b.role(t, w.A, invitee))

		b.setMaxUsers(t, w.A, 4)
		require.Equal(t, http.StatusOK, b.do(t, http.MethodPost, "/api/invitations/accept", invitee.Token, map[string]string{"token": inv.Token}).status)
		require.Equal(t, "member", b.role(t, w.A, invitee))
	})

	t.Run("OrganizationMustBeActive", func(t *testing.T) {
		t.Parallel()
		f := b.invFixture(t)
		b.setStatus(t, f.w.A, tenancy.StatusSuspended)
		r := b.do(t, http.MethodPost, "/api/invitations/accept", f.invitee.Token, map[string]string{"token": f.inv.Token})
		requireProblem(t, r, http.StatusForbidden, tenancy.CodeOrganizationNotActive, "")
		require.Equal(t, "pending", b.invitationStatus(t, f.inv.Invitation.ID))
	})

	t.Run("AlreadyAMember", func(t *testing.T) {
		t.Parallel()
		f := b.invFixture(t)
		b.addMember(t, f.w.A, f.invitee, tenancy.RoleMember)
		r := b.do(t, http.MethodPost, "/api/invitations/accept", f.invitee.Token, map[string]string{"token": f.inv.Token})
		requireProblem(t, r, http.StatusBadRequest, httpapi.CodeDuplicateConstraint, "User is already a member of this organization")
	})

	t.Run("OnBehalfByAnAdmin", func(t *testing.T) {
		t.Parallel()
		f := b.invFixture(t)
		got := decode[acceptedJSON](t, b.do(t, http.MethodPost, invitationsPath(f.w.A, f.inv.Invitation.ID, "accept"), f.w.AdminA.Token, nil), http.StatusOK)
		require.Equal(t, f.invitee.ID.String(), got.Membership.UserID)
		require.Equal(t, "member", b.role(t, f.w.A, f.invitee))
		joined := b.orgAudit(t, f.w.A.ID, "user.joined")
		require.Len(t, joined, 1)
		require.Equal(t, f.w.AdminA.ID, *joined[0].ActorID, "the admin acted")
		require.Equal(t, f.invitee.ID.String(), joined[0].TargetID)
	})

	t.Run("OnBehalfNeedsAnAccount", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		b.setMaxUsers(t, w.A, 10)
		inv := b.invite(t, w.A, w.OwnerA, "nobody-"+uuid.NewString()[:8]+"@example.test", "member")
		r := b.do(t, http.MethodPost, invitationsPath(w.A, inv.Invitation.ID, "accept"), w.OwnerA.Token, nil)
		requireProblem(t, r, http.StatusBadRequest, httpapi.CodeBadRequest, "The invited user has not created an account yet")
	})

	t.Run("EndUserWithTheSameEmailIsNotTheInvitee", func(t *testing.T) {
		t.Parallel()
		f := b.invFixture(t)
		// An end user of org B who happens to use the invited address.
		endUser := uuid.Must(uuid.NewV7())
		_, err := b.pool.Exec(t.Context(), `INSERT INTO users (id, org_id, email, email_verified_at) VALUES ($1, $2, $3, now())`,
			endUser, f.w.B.ID, f.invitee.Email)
		require.NoError(t, err)
		tok := "tok-" + endUser.String()
		b.tokens.Store(tok, endUser)
		r := b.do(t, http.MethodPost, "/api/invitations/accept", tok, map[string]string{"token": f.inv.Token})
		requireProblem(t, r, http.StatusForbidden, httpapi.CodeForbidden, msgOtherEmail)
		require.Empty(t, decode[[]myInvitationJSON](t, b.do(t, http.MethodGet, "/api/invitations", tok, nil), http.StatusOK))
	})
}

// TestAcceptExpiredInvitation uses its own bundle: it moves the clock.
func TestAcceptExpiredInvitation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := b.invFixture(t)
	b.advance(7 * 24 * time.Hour)
	for _, r := range []response{
		b.do(t, http.MethodPost, "/api/invitations/accept", f.invitee.Token, map[string]string{"token": f.inv.Token}),
		b.do(t, http.MethodPost, "/api/invitations/"+f.inv.Invitation.ID+"/accept", f.invitee.Token, nil),
		b.do(t, http.MethodPost, invitationsPath(f.w.A, f.inv.Invitation.ID, "accept"), f.w.OwnerA.Token, nil),
		b.do(t, http.MethodPost, "/api/invitations/decline", "", map[string]string{"token": f.inv.Token}),
	} {
		requireProblem(t, r, http.StatusBadRequest, tenancy.CodeInvitationExpired, "Invitation has expired")
	}
	require.Empty(t, b.role(t, f.w.A, f.invitee))
	require.Empty(t, decode[[]myInvitationJSON](t, b.do(t, http.MethodGet, "/api/invitations", f.invitee.Token, nil), http.StatusOK))

	// Once the sweep has marked it, the answer stays the same.
	n, err := b.mod.Service().ExpireInvitations(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	requireProblem(t, b.do(t, http.MethodPost, "/api/invitations/accept", f.invitee.Token, map[string]string{"token": f.inv.Token}),
		http.StatusBadRequest, tenancy.CodeInvitationExpired, "Invitation has expired")
}

// ---- decline, cancel, list mine, link

func TestDeclineInvitation(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("ByIDThenAcceptIsNotFound", func(t *testing.T) {
		t.Parallel()
		f := b.invFixture(t)
		r := b.do(t, http.MethodPost, "/api/invitations/"+f.inv.Invitation.ID+"/decline", f.invitee.Token, nil)
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		require.JSONEq(t, `{"success": true, "message": "Invitation declined"}`, string(r.body))
		require.Equal(t, "declined", b.invitationStatus(t, f.inv.Invitation.ID))
		declined := b.orgAudit(t, f.w.A.ID, "invitation.declined")
		require.Len(t, declined, 1)
		require.Equal(t, f.invitee.ID, *declined[0].ActorID)
		requireProblem(t, b.do(t, http.MethodPost, "/api/invitations/accept", f.invitee.Token, map[string]string{"token": f.inv.Token}),
			http.StatusNotFound, httpapi.CodeNotFound, msgInvitationGone)
	})

	t.Run("ByTokenAnonymously", func(t *testing.T) {
		t.Parallel()
		f := b.invFixture(t)
		body := map[string]string{"token": f.inv.Token}
		require.Equal(t, http.StatusOK, b.do(t, http.MethodPost, "/api/invitations/decline", "", body).status)
		require.Equal(t, "declined", b.invitationStatus(t, f.inv.Invitation.ID))
		declined := b.orgAudit(t, f.w.A.ID, "invitation.declined")
		require.Len(t, declined, 1)
		require.Nil(t, declined[0].ActorID)
		require.Equal(t, f.inv.Invitation.ID, declined[0].TargetID)
		requireProblem(t, b.do(t, http.MethodPost, "/api/invitations/decline", "", body), http.StatusNotFound, httpapi.CodeNotFound, msgInvitationGone)
		requireProblem(t, b.do(t, http.MethodPost, "/api/invitations/decline", "", map[string]string{"token": "nope"}),
			http.StatusNotFound, httpapi.CodeNotFound, msgInvitationGone)
	})
}

func TestCancelInvitation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := b.invFixture(t)
	r := b.do(t, http.MethodPost, invitationsPath(f.w.A, f.inv.Invitation.ID), f.w.AdminA.Token, nil)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, "null", strings.TrimSpace(string(r.body)))
	require.Equal(t, "cancelled", b.invitationStatus(t, f.inv.Invitation.ID))
	revoked := b.orgAudit(t, f.w.A.ID, "invitation.revoked")
	require.Len(t, revoked, 1)
	require.Equal(t, f.w.AdminA.ID, *revoked[0].ActorID)
	require.Equal(t, f.invitee.Email, revoked[0].Details["email"])

	requireProblem(t, b.do(t, http.MethodPost, invitationsPath(f.w.A, f.inv.Invitation.ID), f.w.AdminA.Token, nil),
		http.StatusNotFound, httpapi.CodeNotFound, msgInvitationGone)
	requireProblem(t, b.do(t, http.MethodPost, "/api/invitations/accept", f.invitee.Token, map[string]string{"token": f.inv.Token}),
		http.StatusNotFound, httpapi.CodeNotFound, msgInvitationGone)
	// The address can be invited again.
	b.invite(t, f.w.A, f.w.OwnerA, f.invitee.Email, "member")
}

func TestListMyInvitations(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := b.invFixture(t)
	fromB := b.invite(t, f.w.B, f.w.OwnerB, strings.ToUpper(f.invitee.Email), "admin")
	cancelled := b.world(t)
	c := b.invite(t, cancelled.A, cancelled.OwnerA, f.invitee.Email, "member")
	require.Equal(t, http.StatusOK, b.do(t, http.MethodPost, invitationsPath(cancelled.A, c.Invitation.ID), cancelled.OwnerA.Token, nil).status)

	r := b.do(t, http.MethodGet, "/api/invitations", f.invitee.Token, nil)
	list := decode[[]myInvitationJSON](t, r, http.StatusOK)
	require.Len(t, list, 2)
	require.Equal(t, f.inv.Invitation.ID, list[0].ID)
	require.Equal(t, f.w.A.Slug, list[0].OrganizationSlug)
	require.Equal(t, "Org "+f.w.A.Slug, list[0].OrganizationName)
	require.Equal(t, "member", list[0].Role)
	require.Equal(t, fromB.Invitation.ID, list[1].ID)
	require.Equal(t, f.w.B.Slug, list[1].OrganizationSlug)
	require.Equal(t, "admin", list[1].Role)
	for _, secret := range []string{f.inv.Token, fromB.Token, crypto.HashToken(f.inv.Token)} {
		require.NotContains(t, string(r.body), secret)
	}
	require.Empty(t, decode[[]myInvitationJSON](t, b.do(t, http.MethodGet, "/api/invitations", f.w.Stranger.Token, nil), http.StatusOK))
}

func TestInvitationLink(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.do(t, http.MethodGet, "/invitations/accept/abc_DEF-123", "", nil)
	require.Equal(t, http.StatusFound, r.status, string(r.body))
	require.Equal(t, testDashboardURL+"/invitations/accept?token=abc_DEF-123", r.header.Get("Location"))
	require.Equal(t, "no-store", r.header.Get("Cache-Control"))
	loc, err := url.Parse(b.do(t, http.MethodGet, "/invitations/accept/a%26b%3Dc", "", nil).header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, "a&b=c", loc.Query().Get("token"), "the token is escaped into the query")
	require.Equal(t, "/invitations/accept", loc.Path)
}

// ---- auto-accept on email verification

func TestAcceptPendingInvitationsTx(t *testing.T) {
	t.Parallel()
	b := setup(t)
	svc := b.mod.Service()
	acceptAll := func(t *testing.T, u account, email string, commit bool) {
		t.Helper()
		tx, err := b.pool.Begin(t.Context())
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(t.Context()) }()
		require.NoError(t, svc.AcceptPendingInvitationsTx(t.Context(), tx, u.ID, email))
		if commit {
			require.NoError(t, tx.Commit(t.Context()))
		}
	}

	t.Run("AcceptsWhatFitsAndLeavesTheRestPending", func(t *testing.T) {
		t.Parallel()
		roomy, full, suspended := b.world(t), b.world(t), b.world(t)
		b.setMaxUsers(t, roomy.A, 10)
		b.setMaxUsers(t, suspended.A, 10)
		u := b.user(t, "verified")
		okInv := b.invite(t, roomy.A, roomy.AdminA, strings.ToUpper(u.Email), "admin")
		fullInv := b.invite(t, full.A, full.OwnerA, u.Email, "member")
		suspInv := b.invite(t, suspended.A, suspended.OwnerA, u.Email, "member")
		b.setStatus(t, suspended.A, tenancy.StatusSuspended)
		other := b.invite(t, roomy.B, roomy.OwnerB, "someone-else-"+uuid.NewString()[:8]+"@example.test", "member")

		acceptAll(t, u, u.Email, true)
		require.Equal(t, "admin", b.role(t, roomy.A, u))
		require.Equal(t, "accepted", b.invitationStatus(t, okInv.Invitation.ID))
		require.Equal(t, "pending", b.invitationStatus(t, fullInv.Invitation.ID), "over the team limit")
		require.Empty(t, b.role(t, full.A, u))
		require.Equal(t, "pending", b.invitationStatus(t, suspInv.Invitation.ID), "organization not active")
		require.Equal(t, "pending", b.invitationStatus(t, other.Invitation.ID))

		joined := b.orgAudit(t, roomy.A.ID, "user.joined")
		require.Len(t, joined, 1)
		require.Equal(t, u.ID, *joined[0].ActorID)
		require.Equal(t, map[string]any{"invitation_id": okInv.Invitation.ID, "user_email": u.Email}, joined[0].Details)
		require.Len(t, b.orgAudit(t, roomy.A.ID, "invitation.accepted"), 1)
		require.Len(t, b.orgAudit(t, roomy.A.ID, "member.added"), 1)
		require.Empty(t, b.orgAudit(t, full.A.ID, "user.joined"))

		// Nothing left that fits: a second run changes nothing.
		acceptAll(t, u, u.Email, true)
		require.Len(t, b.orgAudit(t, roomy.A.ID, "user.joined"), 1)
	})

	t.Run("SharesTheCallersTransaction", func(t *testing.T) {
		t.Parallel()
		w := b.world(t)
		b.setMaxUsers(t, w.A, 10)
		u := b.user(t, "rolled-back")
		inv := b.invite(t, w.A, w.OwnerA, u.Email, "member")
		acceptAll(t, u, u.Email, false)
		require.Equal(t, "pending", b.invitationStatus(t, inv.Invitation.ID))
		require.Empty(t, b.role(t, w.A, u))
		require.Empty(t, b.orgAudit(t, w.A.ID, "user.joined"))
	})
}

// TestAcceptPendingInvitationsTxSkipsExpired uses its own bundle: it moves
// the clock.
func TestAcceptPendingInvitationsTxSkipsExpired(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.world(t)
	b.setMaxUsers(t, w.A, 10)
	b.setMaxUsers(t, w.B, 10)
	u := b.user(t, "late")
	old := b.invite(t, w.A, w.OwnerA, u.Email, "member")
	b.advance(6 * 24 * time.Hour)
	fresh := b.invite(t, w.B, w.OwnerB, u.Email, "member")
	b.advance(2 * 24 * time.Hour)

	tx, err := b.pool.Begin(t.Context())
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(t.Context()) }()
	require.NoError(t, b.mod.Service().AcceptPendingInvitationsTx(t.Context(), tx, u.ID, u.Email))
	require.NoError(t, tx.Commit(t.Context()))
	require.Empty(t, b.role(t, w.A, u))
	require.Equal(t, "pending", b.invitationStatus(t, old.Invitation.ID), "the sweep expires it")
	require.Equal(t, "member", b.role(t, w.B, u))
	require.Equal(t, "accepted", b.invitationStatus(t, fresh.Invitation.ID))
}
