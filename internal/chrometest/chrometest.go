// Package chrometest starts the headless Chromium (Debian's package
// chromium) that the browser tests drive with chromedp, with the flags it
// needs on test machines without network.
package chrometest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Path is where Debian installs Chromium.
const Path = "/usr/bin/chromium"

// Start starts Chromium with a window of width × height and returns its
// chromedp context, bounded to three minutes so that a hang fails the
// test; everything stops when the test ends. Without Chromium the test is
// skipped.
func Start(t testing.TB, width, height int) context.Context {
	t.Helper()
	if _, err := os.Stat(Path); err != nil {
		t.Skipf("skipping browser test: %s is missing (install the Debian packages chromium and chromium-driver)", Path)
	}
	// No network on the test machines: without these flags Chromium
	// hangs on lookups for updates, sync and the like.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(Path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	tctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	if err := chromedp.Do(tctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return tctx
}
