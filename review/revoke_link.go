package review

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// The sender of a release by link may have no account (a member of staff
// who only sends mail): their release notice carries a signed, expiring
// link that revokes every download link of the release — a recipient
// turned out wrong (3.3.5, against mis-sending). It is signed with the
// link key as the delay links are (sign, checkLink), under an action of
// its own, so no other signed link can be turned into it. The GET shows a
// confirmation only (mail scanners fetch every URL); the POST revokes, and
// is refused from another site's page. The revocation is the download
// service's download-revoke audit entry, actor the sender.

// linkRevokeAction is the signed action of the sender's revoke link.
const linkRevokeAction = "revoke-links"

// RevokeLinksURL returns the sender's signed link that revokes the
// download links of id's release, valid until exp (the links' expiry).
func (s *Service) RevokeLinksURL(id string, exp time.Time) string {
	return s.signedURL("/api/v1/links/"+id+"/revoke", linkRevokeAction, id, exp)
}

// withRevokeLink adds the sender's revoke link to their release notice.
func (s *Service) withRevokeLink(n *notice, id string, exp time.Time) {
	u := s.RevokeLinksURL(id, exp)
	fmt.Fprintf(&n.JA, "\n宛先に誤りがあった場合は、次のリンクから、すべての受信者のダウンロードリンクを取り消せます（%s まで有効）:\n%s\n", s.Time(exp), u)
	fmt.Fprintf(&n.EN, "\nIf a recipient was wrong, revoke the download links of every recipient here (valid until %s):\n%s\n", s.Time(exp), u)
}

// linksExpiry is when the links of id's release expire (the first one;
// they are made together), for a notice written at recovery.
func (s *Service) linksExpiry(ctx context.Context, id string) (time.Time, bool) {
	if s.downloads == nil {
		return time.Time{}, false
	}
	links, err := s.downloads.Links(ctx, id)
	if err != nil || len(links) == 0 {
		return time.Time{}, false
	}
	return links[0].Expires, true
}

const revokeBySenderReason = "送信者が通知メールのリンクから取り消し（宛先誤り等）"

// handleSignedRevokePage shows the confirmation of the sender's link.
func (s *Service) handleSignedRevokePage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.checkLink(linkRevokeAction, id, r.URL.Query().Get("exp"), r.URL.Query().Get("sig")); err != nil {
		s.delayPageErr(w, err)
		return
	}
	htmlHeaders(w)
	w.Header().Set("Cache-Control", "no-store")
	delayPage.Execute(w, delayPageData{
		JA:     "メール " + id + " のダウンロードリンクを、すべての受信者について取り消します。取り消すと、受信者はファイルをダウンロードできなくなります（元に戻せません）。よろしければボタンを押してください。",
		EN:     "This revokes the download links of message " + id + " for every recipient; they can no longer download the files (this cannot be undone). Press the button to confirm.",
		Action: r.URL.RequestURI(), Button: "リンクを取り消す / Revoke the links", Form: true})
}

// handleSignedRevoke revokes, confirmed.
func (s *Service) handleSignedRevoke(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	err := s.checkLink(linkRevokeAction, id, r.URL.Query().Get("exp"), r.URL.Query().Get("sig"))
	if err == nil && !sameSite(r) {
		err = errf(http.StatusForbidden, "cross_site", "他のサイトからの要求は受け付けません。", "cross-site request refused", nil)
	}
	n := 0
	if err == nil {
		if rec, gerr := s.get(r.Context(), id); gerr != nil {
			err = gerr
		} else {
			// As the sender: RevokeLinks lets the sender revoke and
			// audits a refusal; the grant is download-revoke.
			n, err = s.RevokeLinks(r.Context(), id, Actor{Address: rec.Envelope.From}, revokeBySenderReason)
		}
	}
	if err != nil {
		s.linkFail(w, r, err)
		return
	}
	ja := fmt.Sprintf("メール %s のダウンロードリンクを取り消しました（%d 件）。", id, n)
	en := fmt.Sprintf("The download links of message %s were revoked (%d).", id, n)
	if n == 0 {
		ja, en = fmt.Sprintf("メール %s のダウンロードリンクは、すでに取り消されています。", id), fmt.Sprintf("The download links of message %s were revoked already.", id)
	}
	linkDone(w, r, map[string]any{"id": id, "revoked": n, "message_ja": ja, "message_en": en}, ja, en)
}

// sameSite reports whether a POST may come from this page: a browser
// names the page's origin (Origin, or Sec-Fetch-Site); one from another
// site is refused. A client that sends neither (curl) has no cookies to
// abuse, and the signature is still required.
func sameSite(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}
