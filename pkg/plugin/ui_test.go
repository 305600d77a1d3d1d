package plugin

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned/fake"
)

func TestUIRefusesANonLoopbackAddress(t *testing.T) {
	for _, addr := range []string{"0.0.0.0", "192.0.2.1", "::"} {
		h := newHarness(t, webApp())
		h.mustRun(ExitCodeError, "ui", "--address", addr, "--no-browser")
		if !strings.Contains(h.err.String(), "loopback only") || h.out.Len() != 0 {
			t.Errorf("ui --address %s: stdout %q stderr %q; want no URL and an error saying loopback only", addr, h.out, h.err)
		}
	}
}

// TestUIServesThePrintedURL runs kubectl ferry ui --no-browser and opens the URL it prints as a
// browser would: the secret becomes a cookie and the list shows the Application; the same
// address without the secret is refused.
func TestUIServesThePrintedURL(t *testing.T) {
	client := fake.NewSimpleClientset(webApp())
	outR, outW := io.Pipe()
	o := NewOptions(genericiooptions.IOStreams{In: strings.NewReader(""), Out: outW, ErrOut: io.Discard})
	o.NewClient = func() (versioned.Interface, error) { return client, nil }
	o.Namespace = func() (string, error) { return "team", nil }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- Run(ctx, o, []string{"ui", "--no-browser", "--port", "0"}); outW.Close() }()
	defer func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("kubectl ferry ui exited %d after Ctrl-C, want 0", code)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("kubectl ferry ui did not stop within 10s of its context ending")
		}
	}()
	line, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the URL: %v (%q)", err, line)
	}
	go func() { _, _ = io.Copy(io.Discard, outR) }()
	u := strings.TrimSpace(strings.TrimPrefix(line, "Ferry UI: "))
	if !strings.HasPrefix(u, "http://127.0.0.1:") || !strings.Contains(u, "/?token=") {
		t.Fatalf("printed %q; want Ferry UI: http://127.0.0.1:P/?token=...", line)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := browser.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `id="app/team/web"`) || resp.Request.URL.RawQuery != "" {
		t.Fatalf("opening the printed URL: %s at %s; want 200 with web's row, the secret gone from the URL:\n%s", resp.Status, resp.Request.URL, body)
	}
	bare := strings.SplitN(u, "?", 2)[0]
	resp, err = http.Get(bare)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET %s without the secret: %s, want 401", bare, resp.Status)
	}
}
