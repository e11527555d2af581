package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"dlpguard/review"
)

// holdParseArgs parses flags that may follow positional arguments
// ("release ID --reason …") and returns the positionals.
func holdParseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func holdUsage(w io.Writer) {
	fmt.Fprint(w, `usage: dlpguard hold COMMAND [--url URL] [--token TOKEN] ...

  list [--status held] [--department D] [--rule R] [--level I] [--age 24h] [--limit N] [--offset N] [--json]
  show ID [--json]
  release ID --reason TEXT [--json]      approve; releases once enough approvers agreed (four-eyes)
  reject ID --reason TEXT [--json]
  false-positive ID --detector NAME [--location L] --reason TEXT [--json]

Output is readable text (Japanese first, identifiers masked, times in
--time-zone, default $DLPGUARD_TIME_ZONE or Asia/Tokyo); --json prints the
API's JSON for scripts.

The token comes from --token or $DLPGUARD_TOKEN (dlpguard tokens add);
the URL from --url or $DLPGUARD_URL (default http://127.0.0.1:8025).
`)
}

// runHold is `dlpguard hold …`: the API client of the hold-and-release
// workflow (3.3.5).
func runHold(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		holdUsage(stderr)
		return 2
	}
	sub := args[0]
	fs := flag.NewFlagSet("hold "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	apiURL := fs.String("url", holdEnvOr("DLPGUARD_URL", "http://127.0.0.1:8025"), "API base URL")
	token := fs.String("token", os.Getenv("DLPGUARD_TOKEN"), "API token (or $DLPGUARD_TOKEN)")
	reason := fs.String("reason", "", "reason for the action (required for release, reject, false-positive)")
	asJSON := fs.Bool("json", false, "print the API's JSON (for scripts)")
	tz := fs.String("time-zone", "", "zone of the times shown (default $DLPGUARD_TIME_ZONE or Asia/Tokyo)")
	status := fs.String("status", "", "list: statuses, comma-separated (held, released, rejected, expired)")
	dept := fs.String("department", "", "list: department")
	rule := fs.String("rule", "", "list: rule ID")
	level := fs.String("level", "", "list: level I, II or III")
	age := fs.String("age", "", "list: held longer than (e.g. 24h, 7d)")
	limit := fs.Int("limit", 0, "list: page size")
	offset := fs.Int("offset", 0, "list: offset")
	detector := fs.String("detector", "", "false-positive: detector name")
	location := fs.String("location", "", "false-positive: location (e.g. body)")
	pos, err := holdParseArgs(fs, args[1:])
	if err != nil {
		return 2
	}
	if *token == "" {
		fmt.Fprintln(stderr, "dlpguard hold: no token (--token or $DLPGUARD_TOKEN)")
		return 2
	}
	loc, err := cliZone(*tz)
	if err != nil {
		fmt.Fprintf(stderr, "dlpguard hold: %v\n", err)
		return 2
	}
	c := &review.Client{BaseURL: *apiURL, Token: *token}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	needID := func() (string, bool) {
		if len(pos) != 1 {
			fmt.Fprintf(stderr, "dlpguard hold %s: want one hold ID\n", sub)
			return "", false
		}
		return pos[0], true
	}
	var out any
	switch sub {
	case "list":
		q := url.Values{}
		for k, v := range map[string]string{"status": *status, "department": *dept, "rule": *rule, "level": *level, "age": *age} {
			if v != "" {
				q.Set(k, v)
			}
		}
		if *limit > 0 {
			q.Set("limit", fmt.Sprint(*limit))
		}
		if *offset > 0 {
			q.Set("offset", fmt.Sprint(*offset))
		}
		page, err := c.List(ctx, q)
		if err != nil {
			return holdFail(stderr, err)
		}
		if !*asJSON {
			printList(stdout, page, loc)
			return 0
		}
		out = page
	case "show":
		id, ok := needID()
		if !ok {
			return 2
		}
		v, err := c.Show(ctx, id)
		if err != nil {
			return holdFail(stderr, err)
		}
		if !*asJSON {
			printView(stdout, v, loc)
			return 0
		}
		out = v
	case "release", "reject", "false-positive":
		id, ok := needID()
		if !ok {
			return 2
		}
		if strings.TrimSpace(*reason) == "" {
			fmt.Fprintf(stderr, "dlpguard hold %s: --reason is required (理由の入力が必要です)\n", sub)
			return 2
		}
		switch sub {
		case "release":
			res, err := c.Release(ctx, id, *reason)
			if err != nil {
				return holdFail(stderr, err)
			}
			if !*asJSON {
				printRelease(stdout, res)
				return 0
			}
			out = res
		case "reject":
			v, err := c.Reject(ctx, id, *reason)
			if err != nil {
				return holdFail(stderr, err)
			}
			if !*asJSON {
				fmt.Fprintf(stdout, "%s: 却下しました。送信者に通知しました rejected; the sender was told\n\n", id)
				printView(stdout, v, loc)
				return 0
			}
			out = v
		default:
			if *detector == "" {
				fmt.Fprintln(stderr, "dlpguard hold false-positive: --detector is required")
				return 2
			}
			v, err := c.FalsePositive(ctx, id, *detector, *location, *reason)
			if err != nil {
				return holdFail(stderr, err)
			}
			if !*asJSON {
				fmt.Fprintf(stdout, "%s: 誤検知として記録しました marked as a false positive (%s)\n", id, *detector)
				return 0
			}
			out = v
		}
	default:
		fmt.Fprintf(stderr, "dlpguard hold: unknown command %q\n", sub)
		holdUsage(stderr)
		return 2
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.Encode(out)
	return 0
}

func holdFail(stderr io.Writer, err error) int {
	var e *review.Error
	if errors.As(err, &e) {
		fmt.Fprintf(stderr, "dlpguard hold: %s (%d %s)\n%s\n", e.JA, e.Status, e.Code, e.EN)
		return 1
	}
	fmt.Fprintf(stderr, "dlpguard hold: %v\n", err)
	return 1
}

func holdEnvOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
