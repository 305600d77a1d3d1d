package plugin

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/yaml"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// ColorWanted reports whether w is a terminal that should get colours: a character device, with
// NO_COLOR unset and TERM not "dumb".
func ColorWanted(w io.Writer) bool {
	if os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

const (
	ansiReset  = "\x1b[0m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
	ansiBold   = "\x1b[1m"
)

// statusColor is the colour of a sync, health, phase or condition status word.
func statusColor(s string) string {
	switch s {
	case "Synced", "Healthy", "Succeeded", "True", "Sent", "Complete":
		return ansiGreen
	case "OutOfSync", "Progressing", "Pending", "Running", "Suspended", "Waiting", "Paused":
		return ansiYellow
	case "Degraded", "Missing", "Failed", "False":
		return ansiRed
	}
	return ""
}

// paint wraps s in the colour of its status when colours are on.
func paint(on bool, s string) string {
	if c := statusColor(s); on && c != "" {
		return c + s + ansiReset
	}
	return s
}

// table is a kubectl-style table: upper-case headers, columns three spaces apart, the last column
// not padded. Columns listed in colored get the colour of their status word.
type table struct {
	header  []string
	rows    [][]string
	colored map[int]bool
	indent  string
}

// section adds a row of one cell that spans the table and does not widen its first column.
func (t *table) section(title string) { t.rows = append(t.rows, []string{"\x00" + title}) }

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer, color bool) {
	var widths []int
	measure := func(cells []string) {
		if len(cells) == 1 && strings.HasPrefix(cells[0], "\x00") {
			return
		}
		for i, c := range cells {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			if n := utf8.RuneCountInString(c); n > widths[i] {
				widths[i] = n
			}
		}
	}
	if t.header != nil {
		measure(t.header)
	}
	for _, r := range t.rows {
		measure(r)
	}
	line := func(cells []string, header bool) {
		var b strings.Builder
		b.WriteString(t.indent)
		if len(cells) == 1 && strings.HasPrefix(cells[0], "\x00") {
			b.WriteString(cells[0][1:])
			fmt.Fprintln(w, b.String())
			return
		}
		for i, c := range cells {
			text := c
			if !header && t.colored[i] {
				text = paint(color, c)
			}
			b.WriteString(text)
			if i < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+3))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	if t.header != nil {
		line(t.header, true)
	}
	for _, r := range t.rows {
		line(r, false)
	}
}

// kvList prints "Key:   value" lines with the values aligned.
type kvList struct {
	indent string
	keys   []string
	values []string
}

func (f *kvList) add(key, value string) {
	f.keys = append(f.keys, key)
	f.values = append(f.values, value)
}

func (f *kvList) write(w io.Writer) {
	width := 0
	for _, k := range f.keys {
		if n := utf8.RuneCountInString(k); n > width {
			width = n
		}
	}
	for i, k := range f.keys {
		fmt.Fprintf(w, "%s%s:%s%s\n", f.indent, k, strings.Repeat(" ", width-utf8.RuneCountInString(k)+2), f.values[i])
	}
}

// shortSHA shortens each full commit SHA of rev to 12 characters (gitopsv1alpha1.ShortRevision).
func shortSHA(rev string) string { return gitopsv1alpha1.ShortRevision(rev) }

// shortID shortens an operation's UUID to its first 8 characters.
func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// truncate cuts s to n characters, ending in "…", and puts it on one line.
func truncate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if n <= 0 || len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// orDash is s, or "-" when empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// orUnknown is s, or "Unknown" when empty.
func orUnknown(s string) string {
	if s == "" {
		return "Unknown"
	}
	return s
}

// age is kubectl's AGE: how long ago t was, "<unknown>" for the zero time.
func age(now time.Time, t metav1.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// ago is age with " ago", or "-" for no time.
func ago(now time.Time, t *metav1.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return duration.HumanDuration(now.Sub(t.Time)) + " ago"
}

// timestamp is t in RFC 3339 with how long ago it was.
func timestamp(now time.Time, t *metav1.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339) + " (" + ago(now, t) + ")"
}

// printObject prints obj as JSON (indented like kubectl) or YAML.
func printObject(w io.Writer, format string, obj any) error {
	var data []byte
	var err error
	switch format {
	case "json":
		data, err = json.MarshalIndent(obj, "", "    ")
		data = append(data, '\n')
	case "yaml":
		data, err = yaml.Marshal(obj)
	default:
		return fmt.Errorf("unsupported output format %q", format)
	}
	if err != nil {
		return &ExitError{Code: ExitCodeError, Msg: fmt.Sprintf("cannot print as %s: %v", format, err)}
	}
	_, err = w.Write(data)
	return err
}
