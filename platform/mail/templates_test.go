package mail_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authos/authos/platform/mail"
)

func TestTemplates(t *testing.T) {
	t.Parallel()

	tmpl, err := mail.LoadTemplates()
	require.NoError(t, err)

	branding := mail.Branding{AppName: "Acme", BrandColor: "#0a7f3f", LogoURL: "https://cdn.example.com/logo.png"}

	t.Run("Names", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, []string{"account_exists", "invitation", "password_reset", "test_message", "verify_email"}, tmpl.Names())
	})

	t.Run("RenderEach", func(t *testing.T) {
		t.Parallel()
		link := "https://app.example.com/verify-email?token=tok123&org=acme"
		cases := []struct {
			name        string
			data        any
			wantSubject string
			wantText    []string
			wantHTML    []string
		}{
			{
				name:        mail.TemplateVerifyEmail,
				data:        mail.LinkData{Branding: branding, Link: link, ExpiresIn: "24 hours"},
				wantSubject: "Verify your email address for Acme",
				wantText:    []string{link, "24 hours", "Acme"},
				wantHTML:    []string{`href="https://app.example.com/verify-email?token=tok123&amp;org=acme"`, "Verify email address", "24 hours", `src="https://cdn.example.com/logo.png"`, "background-color:#0a7f3f"},
			},
			{
				name:        mail.TemplatePasswordReset,
				data:        mail.LinkData{Branding: branding, Link: link, ExpiresIn: "1 hour"},
				wantSubject: "Reset your Acme password",
				wantText:    []string{link, "1 hour"},
				wantHTML:    []string{"Choose a new password", "1 hour"},
			},
			{
				name:        mail.TemplateInvitation,
				data:        mail.InvitationData{Branding: branding, OrgName: "Globex", InviterEmail: "boss@globex.com", Role: "admin", Link: link, ExpiresIn: "7 days"},
				wantSubject: "You've been invited to join Globex",
				wantText:    []string{"boss@globex.com invited you to join Globex as admin.", link, "7 days"},
				wantHTML:    []string{"boss@globex.com", "<strong>Globex</strong>", "<strong>admin</strong>", "Accept invitation"},
			},
			{
				name:        mail.TemplateTestMessage,
				data:        mail.TestMessageData{Branding: branding, OrgName: "Globex"},
				wantSubject: "Test email from Globex",
				wantText:    []string{"SMTP settings of Globex work"},
				wantHTML:    []string{"<strong>Globex</strong>"},
			},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				subject, text, html, err := tmpl.Render(tc.name, tc.data)
				require.NoError(t, err)
				require.Equal(t, tc.wantSubject, subject)
				for _, want := range tc.wantText {
					require.Contains(t, text, want)
				}
				require.True(t, strings.HasSuffix(text, "\n"))
				require.False(t, strings.HasSuffix(text, "\n\n"))
				require.True(t, strings.HasPrefix(html, "<!DOCTYPE html>"), html[:min(40, len(html))])
				for _, want := range tc.wantHTML {
					require.Contains(t, html, want)
				}
				require.NotContains(t, text, "<no value>")
				require.NotContains(t, html, "<no value>")
				require.NotContains(t, html, "ZgotmplZ")
			})
		}
	})

	t.Run("EscapesUntrustedData", func(t *testing.T) {
		t.Parallel()
		subject, _, html, err := tmpl.Render(mail.TemplateInvitation, mail.InvitationData{
			Branding:     mail.Branding{AppName: `<img src=x onerror=alert(1)>`, BrandColor: `red;background:url(https://evil.example)`, LogoURL: "javascript:alert(1)"},
			OrgName:      `<script>alert("x")</script>`,
			InviterEmail: `"><b>boss</b>`,
			Role:         "admin",
			Link:         "javascript:alert(document.cookie)",
			ExpiresIn:    "7 days",
		})
		require.NoError(t, err)
		require.Equal(t, `You've been invited to join <script>alert("x")</script>`, subject) // text, escaped later by Q-encoding
		require.NotContains(t, html, "<script>")
		require.NotContains(t, html, "<img src=x")
		require.NotContains(t, html, "<b>boss</b>")
		require.NotContains(t, html, `href="javascript:`)
		require.NotContains(t, html, `src="javascript:`)
		require.Contains(t, html, `href="#ZgotmplZ"`) // html/template neutralised the unsafe URL
		require.NotContains(t, html, "evil.example")
		require.Contains(t, html, "&lt;script&gt;")
		require.Contains(t, html, "background-color:"+mail.DefaultBrandColor)
	})

	t.Run("DefaultsWithoutBranding", func(t *testing.T) {
		t.Parallel()
		_, _, html, err := tmpl.Render(mail.TemplateTestMessage, mail.TestMessageData{OrgName: "Globex"})
		require.NoError(t, err)
		require.NotContains(t, html, "<img")
		require.NotContains(t, html, "Sent by")
	})

	t.Run("SubjectIsOneLine", func(t *testing.T) {
		t.Parallel()
		subject, _, _, err := tmpl.Render(mail.TemplateTestMessage, mail.TestMessageData{OrgName: "Glo\r\nBcc: victim@example.com"})
		require.NoError(t, err)
		require.Equal(t, "Test email from Glo Bcc: victim@example.com", subject)
	})

	t.Run("UnknownTemplate", func(t *testing.T) {
		t.Parallel()
		_, _, _, err := tmpl.Render("nope", nil)
		require.ErrorIs(t, err, mail.ErrUnknownTemplate)
		_, err = tmpl.Compose("nope", nil, "a@example.com")
		require.ErrorIs(t, err, mail.ErrUnknownTemplate)
	})

	t.Run("MapDataFromJSONMatchesStructs", func(t *testing.T) {
		t.Parallel()
		for name, data := range map[string]any{
			mail.TemplateVerifyEmail:   mail.LinkData{Branding: branding, Link: "https://x.example/v?t=1", ExpiresIn: "24 hours"},
			mail.TemplatePasswordReset: mail.LinkData{Link: "https://x.example/r?t=1", ExpiresIn: "1 hour"},
			mail.TemplateInvitation:    mail.InvitationData{Branding: branding, OrgName: "Globex", InviterEmail: "b@globex.com", Role: "member", Link: "https://x.example/i", ExpiresIn: "7 days"},
			mail.TemplateTestMessage:   mail.TestMessageData{OrgName: "Globex"},
		} {
			raw, err := json.Marshal(data)
			require.NoError(t, err)
			var m map[string]any
			require.NoError(t, json.Unmarshal(raw, &m))
			s1, t1, h1, err := tmpl.Render(name, data)
			require.NoError(t, err)
			s2, t2, h2, err := tmpl.Render(name, m)
			require.NoError(t, err, name)
			require.Equal(t, []string{s1, t1, h1}, []string{s2, t2, h2}, name)
		}
	})

	t.Run("MapWithoutBrandingKeys", func(t *testing.T) {
		t.Parallel()
		subject, text, html, err := tmpl.Render(mail.TemplateTestMessage, map[string]any{"OrgName": "Globex"})
		require.NoError(t, err)
		require.Equal(t, "Test email from Globex", subject)
		require.Contains(t, text, "Globex")
		require.Contains(t, html, "Globex")
	})

	t.Run("MissingKeyIsAnError", func(t *testing.T) {
		t.Parallel()
		_, _, _, err := tmpl.Render(mail.TemplateVerifyEmail, map[string]any{"AppName": "Acme", "ExpiresIn": "1 hour"})
		require.ErrorContains(t, err, "Link")
	})

	t.Run("WrongDataType", func(t *testing.T) {
		t.Parallel()
		_, _, _, err := tmpl.Render(mail.TemplateInvitation, mail.TestMessageData{})
		require.Error(t, err)
	})
}
