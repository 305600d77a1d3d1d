package localstack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// The log of every container of every Pod on the stack's Node. kwok serves a container's log
// (the kubelet's /containerLogs, behind the API's pods/log) from a file in the CRI log format
// that its ClusterLogs names; the pod-log-writer component appends to that file, so `kubectl
// logs -f` and a UI following a Pod's log see new lines arrive as from a running app.

// PodLogMessage is the message of every line of a Pod's log on the stack's Node. A line reads
// "<time, RFC 3339 UTC, in seconds> INFO request served n=<counter>": the counter starts at 1
// when the stack (re)starts and grows by one a line, so that lines a follower sees one after
// the other always differ. Every container of every Pod on the Node has this same log.
const PodLogMessage = "request served"

// PodLogInterval is how often a line is added to the Pods' log.
const PodLogInterval = time.Second

// podLogRotateLines bounds the log file of a stack left running for days: past that many lines
// it is renamed to .1 and a new one begins, which a follower (kwok's CRI log reader) notices.
const podLogRotateLines = 3600

// podLogWriterScript appends a line to the file $1 each PodLogInterval. It is a shell loop rather
// than a goroutine so that it outlives `make dev-up` like the other components, and stops with
// them (Down, or the death of the test process that started the stack).
const podLogWriterScript = `log=$1; interval=$2; rotate=$3
n=0
lines=$(wc -l 2>/dev/null <"$log" || echo 0)
while :; do
	if [ "$lines" -ge "$rotate" ]; then mv -f "$log" "$log.1"; lines=0; fi
	n=$((n+1))
	now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	printf '%s stdout F %s INFO ` + PodLogMessage + ` n=%d\n' "$now" "$now" "$n" >>"$log"
	lines=$((lines+1))
	sleep "$interval"
done
`

// podLogFile is the file kwok serves as every container's log.
func (l Layout) podLogFile() string { return filepath.Join(l.Dir, "pod-logs", "containers.log") }

// kwokLogsConfig is kwok's ClusterLogs (a --config document): every Pod's every container has
// the log in file. kwok 0.8 follows it when the request asks to (follow=true), whatever the
// rule's own follow field says.
func kwokLogsConfig(file string) []byte {
	return fmt.Appendf(nil, `# Written by Ferry's local stack: the log of every container of every Pod on its Node.
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata:
  name: ferry-pod-logs
spec:
  logs:
  - logsFile: %s
    follow: true
`, strconv.Quote(file))
}

// startPodLogWriter starts the pod-log-writer component and waits for its first line, so that
// kwok never serves a log that does not exist yet.
func (s *Stack) startPodLogWriter(ctx context.Context, cfg Config) error {
	file := s.layout.podLogFile()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	cfg.logf("starting pod-log-writer: the Pods' log, %s, gets a line every %s", file, PodLogInterval)
	if err := s.startProcess("pod-log-writer", cfg.WithParent, nil, "/bin/sh", "-c", podLogWriterScript, "pod-log-writer",
		file, strconv.Itoa(int(PodLogInterval/time.Second)), strconv.Itoa(podLogRotateLines)); err != nil {
		return err
	}
	return s.waitFor(ctx, cfg, "pod-log-writer", "the Pods' log", func(context.Context) error {
		if fi, err := os.Stat(file); err != nil || fi.Size() == 0 {
			return fmt.Errorf("%s has no line yet", file)
		}
		return nil
	})
}
