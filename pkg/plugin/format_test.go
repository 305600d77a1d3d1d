package plugin

import (
	"bytes"
	"strings"
	"testing"
)

func TestColorOnlyWhenAsked(t *testing.T) {
	h := newHarness(t, webApp())
	h.mustRun(0, "list")
	if strings.Contains(h.out.String(), "\x1b[") {
		t.Errorf("colour without a terminal:\n%q", h.out)
	}
	h.color = true
	h.mustRun(0, "list")
	out := h.out.String()
	if !strings.Contains(out, ansiGreen+"Synced"+ansiReset) {
		t.Errorf("no colour with colours on:\n%q", out)
	}
	// Colour codes do not shift the columns.
	lines := strings.Split(strings.TrimSpace(stripANSI(out)), "\n")
	if len(lines) != 2 || strings.Index(lines[0], "HEALTH") != strings.Index(lines[1], "Healthy") {
		t.Errorf("columns misaligned with colours:\n%s", stripANSI(out))
	}
}

func TestFormatHelpers(t *testing.T) {
	if got := shortSHA(sha1); got != "3f2a9c1b7d4e" {
		t.Errorf("shortSHA = %q", got)
	}
	for _, rev := range []string{"main", "v1.2.0", "", "3f2a9c1"} {
		if got := shortSHA(rev); got != rev {
			t.Errorf("shortSHA(%q) = %q, want it unchanged", rev, got)
		}
	}
	if got := truncate("a  b\nc", 10); got != "a b c" {
		t.Errorf("truncate joins lines: %q", got)
	}
	if got := truncate("abcdefghij", 5); got != "abcd…" {
		t.Errorf("truncate = %q", got)
	}
	if got := shortID("b555911b-0618-48fd"); got != "b555911b" {
		t.Errorf("shortID = %q", got)
	}
	var b bytes.Buffer
	tb := &table{header: []string{"A", "LONGER"}, colored: map[int]bool{0: true}}
	tb.section("a section wider than any column")
	tb.add("Healthy", "x")
	tb.add("y", "")
	tb.write(&b, false)
	want := "A         LONGER\na section wider than any column\nHealthy   x\ny\n"
	if b.String() != want {
		t.Errorf("table:\n%q\nwant\n%q", b.String(), want)
	}
}
