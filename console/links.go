package console

import (
	"context"
	"errors"
	"net/http"

	"dlpguard/review"
)

// Text of the download links section (release by link, issue 13).
var linkTexts = map[string][2]string{
	"links_title":        {"ダウンロードリンク", "Download links"},
	"links_recipient":    {"宛先", "Recipient"},
	"links_state":        {"状態", "State"},
	"links_open":         {"有効", "Open"},
	"links_revoked":      {"取り消し済み", "Revoked"},
	"links_locked":       {"ロック中", "Locked"},
	"links_downloads":    {"ダウンロード", "Downloads"},
	"links_none":         {"まだダウンロードされていません", "Not downloaded yet"},
	"links_revoke":       {"すべてのリンクを取り消す", "Revoke every link"},
	"links_revoked_done": {"ダウンロードリンクを取り消しました。", "The download links were revoked."},
	"links_confirm":      {"すべての宛先のダウンロードリンクを取り消します。よろしいですか？", "Revoke the download links of every recipient?"},
	"links_incomplete":   {"中断", "broken off"},
}

// linksOf adds a released message's download links and their downloads
// to the detail page; a message released otherwise has none.
func (c *Console) linksOf(ctx context.Context, pg *page, d *detailData) {
	links, err := c.d.Review.Links(ctx, d.Rec.ID, pg.actor)
	var e *review.Error
	if errors.As(err, &e) && e.Code == "not_found" {
		return
	}
	if err != nil {
		c.log.Warn("console: download links", "id", d.Rec.ID, "err", err)
		return
	}
	d.Links = links
	for _, l := range links {
		if l.RevokedAt.IsZero() {
			d.LinksOpen = true
		}
	}
}

func (c *Console) handleRevokeLinks(w http.ResponseWriter, r *http.Request, pg *page) {
	id := r.PathValue("id")
	if _, err := c.d.Review.RevokeLinks(r.Context(), id, pg.actor, r.PostForm.Get("reason")); err != nil {
		c.log.Warn("console: revoke refused", "id", id, "user", pg.User.Username, "err", err)
		c.failErr(w, r, pg, viewErr(err))
		return
	}
	c.log.Info("console: links revoked", "id", id, "user", pg.User.Username)
	c.afterAction(w, r, pg, id, "links_revoked_done", nil)
}
