package console

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"dlpguard/hold"
	"dlpguard/review"
)

// Several held messages decided at once with one reason (issue 11 item 9):
// each goes through review.Service's own Reject or Release — the same
// permission check, audit entry and notices as one decision on its page —
// and each outcome, refusals with their reason, is shown. Release in bulk
// is for class III only (3.3.5): class I and II leave only encrypted, and
// the passphrase a release may make must be given to the person who
// releases, message by message.

// maxBulk bounds one bulk decision.
const maxBulk = 200

// bulkRow is the outcome for one message.
type bulkRow struct {
	ID      string
	OK      bool
	Message string
}

type bulkData struct {
	Action string // "reject" or "release"
	Reason string
	Rows   []bulkRow
	Done   int
}

func (c *Console) handleBulk(w http.ResponseWriter, r *http.Request, pg *page) {
	action := r.PathValue("action")
	if action != "reject" && action != "release" {
		c.fail(w, pg, http.StatusNotFound, pg.T("not_found"))
		return
	}
	ids := uniqueIDs(r.PostForm["id"])
	reason := strings.TrimSpace(r.PostForm.Get("reason"))
	switch {
	case len(ids) == 0:
		c.fail(w, pg, http.StatusBadRequest, pg.T("bulk_none"))
		return
	case len(ids) > maxBulk:
		c.fail(w, pg, http.StatusBadRequest, pg.T("bulk_too_many"))
		return
	case reason == "":
		c.fail(w, pg, http.StatusBadRequest, pg.T("bulk_no_reason"))
		return
	}
	d := bulkData{Action: action, Reason: reason}
	for _, id := range ids {
		row := bulkRow{ID: id}
		msg, err := c.bulkOne(r.Context(), pg, action, id, reason)
		if err != nil {
			row.Message = c.refusal(pg, err)
			c.log.Warn("console: bulk "+action+" refused", "id", id, "user", pg.User.Username, "err", err)
		} else {
			row.OK, row.Message = true, pg.T(msg)
			d.Done++
			c.log.Info("console: bulk "+action, "id", id, "user", pg.User.Username)
		}
		d.Rows = append(d.Rows, row)
	}
	pg.Nav, pg.Title, pg.Data = "holds", pg.T("bulk_title"), d
	c.render(w, http.StatusOK, "bulk", pg)
}

// errNotLevelIII refuses a bulk release of class I or II.
var errNotLevelIII = errors.New("bulk release of class I/II")

// bulkOne decides one message and returns the note of its outcome.
func (c *Console) bulkOne(ctx context.Context, pg *page, action, id, reason string) (string, error) {
	if action == "reject" {
		if _, err := c.d.Review.Reject(ctx, id, pg.actor, reason); err != nil {
			return "", err
		}
		return "rejected", nil
	}
	// The level is read only after the permission check, so that the
	// refusal for another department's message says "not found" whatever
	// its level.
	if err := c.d.Review.Can(ctx, pg.actor, id, review.OpDecide); err != nil {
		return "", err
	}
	rec, err := c.d.Holds.Get(ctx, id)
	if err != nil {
		return "", err
	}
	if rec.Level != hold.Level("III") { // 3.3.5: class I/II leave encrypted, released one by one
		return "", errNotLevelIII
	}
	res, err := c.d.Review.Release(ctx, id, pg.actor, reason)
	if err != nil {
		return "", err
	}
	if res.Status != "released" {
		return "approved_wait", nil
	}
	return "released", nil
}

// refusal is the text of a refused decision in the page's language;
// another department's message is "not found", as on its page.
func (c *Console) refusal(pg *page, err error) string {
	if errors.Is(err, errNotLevelIII) {
		return pg.T("bulk_not_iii")
	}
	var e *review.Error
	if errors.As(viewErr(err), &e) {
		if pg.Lang == "en" {
			return e.EN
		}
		return e.JA
	}
	if errors.Is(err, hold.ErrNotFound) {
		return pg.T("not_found")
	}
	return pg.T("internal")
}

// uniqueIDs drops empty and repeated IDs, keeping the order.
func uniqueIDs(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, id := range in {
		id = strings.TrimSpace(id)
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
