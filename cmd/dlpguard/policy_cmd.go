package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"dlpguard/policy"
)

func runPolicy(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		policyUsage(stderr)
		return 2
	}
	switch args[0] {
	case "check":
		return runPolicyCheck(args[1:], stdout, stderr)
	case "diff":
		return runPolicyDiff(args[1:], stdout, stderr)
	case "default":
		// Print the embedded default policy, to start a policy file from.
		stdout.Write(policy.DefaultYAML())
		return 0
	case "help", "-h", "--help":
		policyUsage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "dlpguard policy: unknown subcommand %q\n", args[0])
	policyUsage(stderr)
	return 2
}

func policyUsage(w io.Writer) {
	fmt.Fprint(w, `usage:
  dlpguard policy check FILE...          validate policy files (exit 1 on any error)
  dlpguard policy diff OLD NEW PATH...   show the messages whose verdict a policy change alters
  dlpguard policy default                print the embedded default policy
`)
}

// runPolicyCheck validates each file and prints every problem as
// FILE:LINE: error|warning: FIELD: message.
func runPolicyCheck(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: dlpguard policy check FILE...")
		return 2
	}
	status := 0
	now := time.Now()
	for _, path := range args {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(stderr, "dlpguard policy check: %v\n", err)
			status = 1
			continue
		}
		probs := policy.Check(data, path, now)
		nerr := 0
		for _, p := range probs {
			fmt.Fprintln(stdout, p.String())
			if !p.Warning {
				nerr++
			}
		}
		if nerr > 0 {
			fmt.Fprintf(stdout, "%s: %d 件のエラー (%d errors): 適用できません (not applicable)\n", path, nerr, nerr)
			status = 1
			continue
		}
		e, err := policy.Parse(data, path)
		if err != nil { // cannot happen after a clean Check; kept to fail closed
			fmt.Fprintf(stdout, "%v\n", err)
			status = 1
			continue
		}
		fmt.Fprintf(stdout, "%s: OK — %d 規則 rules, 警告 warnings %d, version %s\n", path, len(e.RuleIDs()), len(probs), e.Version())
	}
	return status
}

// runPolicyDiff re-decides every message under OLD and NEW and prints those
// whose verdict changes, with the rules responsible, then a from→to table.
func runPolicyDiff(args []string, stdout, stderr io.Writer) int {
	o, err := parseScanArgs(args, false)
	if err != nil || len(o.paths) < 3 || o.policy != "" {
		fmt.Fprintln(stderr, "usage: dlpguard policy diff OLD NEW PATH...")
		return 2
	}
	oldPath, newPath, paths := o.paths[0], o.paths[1], o.paths[2:]
	oldE, err := loadEngine(policyArg(oldPath))
	if err != nil {
		fmt.Fprintf(stderr, "dlpguard policy diff: OLD: %v\n", err)
		return 2
	}
	newE, err := loadEngine(policyArg(newPath))
	if err != nil {
		fmt.Fprintf(stderr, "dlpguard policy diff: NEW: %v\n", err)
		return 2
	}
	srcs, errs := expandSources(paths)
	status := 0
	for _, e := range errs {
		fmt.Fprintf(stderr, "dlpguard policy diff: %v\n", e)
		status = 1
	}
	ctx := context.Background()
	now := time.Now()
	type pair struct{ from, to policy.Action }
	counts := map[pair]int{}
	changed := 0
	var stdin io.Reader = os.Stdin
	for _, s := range srcs {
		if s.path == "" {
			// Standard input can be read only once: keep it for both runs.
			data, err := io.ReadAll(os.Stdin)
			if err != nil {
				fmt.Fprintf(stderr, "dlpguard policy diff: -: %v\n", err)
				status = 1
				continue
			}
			stdin = bytes.NewReader(data)
		}
		ov, err := evaluateSource(ctx, oldE, s, stdin, now, nil)
		if err == nil {
			if sr, ok := stdin.(*bytes.Reader); ok {
				sr.Seek(0, io.SeekStart)
			}
			var nv *policy.Verdict
			nv, err = evaluateSource(ctx, newE, s, stdin, now, nil)
			if err == nil {
				counts[pair{ov.Action, nv.Action}]++
				if ov.Action != nv.Action {
					changed++
					fmt.Fprintf(stdout, "%s: %s → %s  %s\n", s.name, ov.Action, nv.Action, ruleDelta(ov, nv))
				}
				continue
			}
		}
		fmt.Fprintf(stderr, "dlpguard policy diff: %s: %v\n", s.name, err)
		status = 1
	}
	var keys []pair
	total := 0
	for k, n := range counts {
		keys = append(keys, k)
		total += n
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].from != keys[j].from {
			return keys[i].from.Rank() > keys[j].from.Rank()
		}
		return keys[i].to.Rank() > keys[j].to.Rank()
	})
	fmt.Fprintf(stdout, "\n変更前 from   変更後 to    件数 messages\n")
	for _, k := range keys {
		mark := ""
		if k.from != k.to {
			mark = "  *"
		}
		fmt.Fprintf(stdout, "%-12s  %-12s %6d%s\n", k.from, k.to, counts[k], mark)
	}
	fmt.Fprintf(stdout, "判定が変わるメッセージ %d / %d (verdict changes)\n", changed, total)
	if oldE.Version() == newE.Version() {
		fmt.Fprintln(stdout, "(OLD と NEW は同一内容です — OLD and NEW have the same content)")
	}
	return status
}

// policyArg lets "default" name the embedded default policy in diff.
func policyArg(p string) string {
	if p == "default" {
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			return ""
		}
	}
	return p
}

// ruleDelta names the rules responsible for a change: rules that fire
// under only one policy, or fire with a different action.
func ruleDelta(ov, nv *policy.Verdict) string {
	old := map[string]policy.RuleHit{}
	for _, h := range ov.Rules {
		old[h.ID] = h
	}
	var parts []string
	seen := map[string]bool{}
	for _, h := range nv.Rules {
		seen[h.ID] = true
		o, ok := old[h.ID]
		switch {
		case !ok:
			parts = append(parts, fmt.Sprintf("+%s(%s, %s)", h.ID, h.Action, h.Clause))
		case o.Action != h.Action:
			parts = append(parts, fmt.Sprintf("~%s(%s→%s)", h.ID, o.Action, h.Action))
		}
	}
	for _, h := range ov.Rules {
		if !seen[h.ID] {
			parts = append(parts, fmt.Sprintf("-%s(%s, %s)", h.ID, h.Action, h.Clause))
		}
	}
	return strings.Join(parts, " ")
}
