package review

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"dlpguard/hold"
)

// Client talks to the API (the CLI's `dlpguard hold …`).
type Client struct {
	BaseURL string // e.g. https://dlpguard.example:8443
	Token   string
	HTTP    *http.Client // nil: http.DefaultClient
}

func (c *Client) do(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error *Error `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error != nil {
			e.Error.Status = resp.StatusCode
			return e.Error
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	return json.Unmarshal(data, out)
}

// List lists held messages; q holds the filters (status, department,
// rule, level, age, limit, offset).
func (c *Client) List(ctx context.Context, q url.Values) (hold.Page, error) {
	var p hold.Page
	path := "/api/v1/holds"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return p, c.do(ctx, http.MethodGet, path, nil, &p)
}

// Show returns one held message.
func (c *Client) Show(ctx context.Context, id string) (HoldView, error) {
	var v HoldView
	return v, c.do(ctx, http.MethodGet, "/api/v1/holds/"+url.PathEscape(id), nil, &v)
}

// Release approves (and, when enough approved, releases) a held message.
func (c *Client) Release(ctx context.Context, id, reason string) (*ReleaseResult, error) {
	var r ReleaseResult
	if err := c.do(ctx, http.MethodPost, "/api/v1/holds/"+url.PathEscape(id)+"/release", actionBody{Reason: reason}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Reject rejects a held message.
func (c *Client) Reject(ctx context.Context, id, reason string) (HoldView, error) {
	var v HoldView
	return v, c.do(ctx, http.MethodPost, "/api/v1/holds/"+url.PathEscape(id)+"/reject", actionBody{Reason: reason}, &v)
}

// FalsePositive marks a finding of a held message as wrong.
func (c *Client) FalsePositive(ctx context.Context, id, detector, location, reason string) (HoldView, error) {
	var v HoldView
	return v, c.do(ctx, http.MethodPost, "/api/v1/holds/"+url.PathEscape(id)+"/false-positive",
		actionBody{Reason: reason, Detector: detector, Location: location}, &v)
}
