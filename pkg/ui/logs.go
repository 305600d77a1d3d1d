package ui

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
)

const (
	// logTail is how many lines a log starts with, as `kubectl logs --tail`.
	logTail = 500
	// logBatch and logFlush bound what the browser receives at once: a busy Pod's lines arrive in
	// batches instead of one event each.
	logBatch = 200
	logFlush = 100 * time.Millisecond
	// maxLogLine cuts a line longer than this; the rest is dropped with a mark.
	maxLogLine = 16 << 10
)

// podRef is one Pod of the Application's tree, for the Logs page's choice.
type podRef struct {
	Namespace, Name, State string
}

// logsView is the Logs page: the Pods of the tree to choose from and, once one is chosen, its
// containers and the URL of its log stream.
type logsView struct {
	Pods       []podRef
	Pod        podRef
	Containers []string
	Container  string
	Stream     string
	Notice     string
	Tail       int
}

// PodHref is the Logs page of pod.
func (v *logsView) PodHref(appNS, app string, pod podRef) string {
	return "/applications/" + appNS + "/" + app + "/logs?" + url.Values{"namespace": {pod.Namespace}, "pod": {pod.Name}}.Encode()
}

// ContainerHref is the Logs page of one container of the chosen Pod.
func (v *logsView) ContainerHref(appNS, app, container string) string {
	return "/applications/" + appNS + "/" + app + "/logs?" + url.Values{"namespace": {v.Pod.Namespace}, "pod": {v.Pod.Name}, "container": {container}}.Encode()
}

// podsOf are the Pods of the tree, in the tree's order.
func podsOf(nodes []treeNode) []podRef {
	var out []podRef
	for _, n := range nodes {
		if n.Kind == "Pod" {
			out = append(out, podRef{Namespace: n.Namespace, Name: n.Name, State: n.State})
		}
		out = append(out, podsOf(n.Children)...)
	}
	return out
}

// handleLogs is the Logs page: the Pods found in the Application's tree and, for the chosen one,
// its log, followed live. The Pod is read, and its log streamed, as the person using the UI.
func (s *Server) handleLogs(w http.ResponseWriter, r *http.Request) {
	p := s.newSubPage(r, "Logs")
	app, err := s.cfg.Client.GitopsV1alpha1().Applications(p.Namespace).Get(r.Context(), p.Name, metav1.GetOptions{})
	if err != nil {
		p.refused(err)
		s.renderSub(w, "logs", p)
		return
	}
	tree := s.tree(r.Context(), app)
	v := &logsView{Pods: podsOf(tree.Nodes), Notice: tree.Notice, Tail: logTail}
	p.View = v
	q := r.URL.Query()
	v.Pod = podRef{Namespace: q.Get("namespace"), Name: q.Get("pod")}
	if v.Pod.Name == "" && len(v.Pods) > 0 {
		v.Pod = v.Pods[0]
	}
	if v.Pod.Name == "" || s.cfg.Kube == nil {
		s.renderSub(w, "logs", p)
		return
	}
	if v.Pod.Namespace == "" {
		v.Pod.Namespace = p.Namespace
	}
	pod, err := s.cfg.Kube.CoreV1().Pods(v.Pod.Namespace).Get(r.Context(), v.Pod.Name, metav1.GetOptions{})
	if err != nil {
		p.refused(err)
		s.renderSub(w, "logs", p)
		return
	}
	v.Pod.State = podState(pod)
	for _, c := range pod.Spec.InitContainers {
		v.Containers = append(v.Containers, c.Name)
	}
	for _, c := range pod.Spec.Containers {
		v.Containers = append(v.Containers, c.Name)
	}
	v.Container = q.Get("container")
	if v.Container == "" && len(pod.Spec.Containers) > 0 {
		v.Container = pod.Spec.Containers[0].Name
	}
	v.Stream = "/applications/" + p.Namespace + "/" + p.Name + "/logs/stream?" +
		url.Values{"namespace": {v.Pod.Namespace}, "pod": {v.Pod.Name}, "container": {v.Container}}.Encode()
	s.renderSub(w, "logs", p)
}

// logLines is one batch of log lines for app.js, appended to the element with ID as text.
type logLines struct {
	ID    string   `json:"id"`
	Lines []string `json:"lines"`
}

// handleLogStream follows a container's log (`kubectl logs -f --tail=500`) as the person and
// sends its lines as Server-Sent Events, in batches. When the log ends (the container stopped),
// an "end" event says so; a refusal is sent as a "problem" with the API's message.
func (s *Server) handleLogStream(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	q := r.URL.Query()
	ns, pod, container := q.Get("namespace"), q.Get("pod"), q.Get("container")
	if ns == "" || pod == "" {
		http.Error(w, "bad request: namespace and pod are required", http.StatusBadRequest)
		return
	}
	if s.cfg.Kube == nil {
		http.Error(w, "the UI has no Kubernetes client to read logs with", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	st := &stream{w: w, f: flusher}
	// A log that ended is not asked for again by the browser: retry only after a long pause.
	if _, err := fmt.Fprint(w, "retry: 60000\n\n"); err != nil {
		return
	}
	flusher.Flush()
	ctx := r.Context()
	body, err := s.cfg.Kube.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container, Follow: true, TailLines: ptr.To[int64](logTail)}).Stream(ctx)
	if err != nil {
		if ctx.Err() == nil {
			_ = st.send("problem", message{ID: "log-problem", Text: apiMessage(err)})
		}
		return
	}
	defer body.Close()
	if err := sendLines(ctx, st, body); err != nil {
		klog.V(2).InfoS("UI log stream ends", "pod", ns+"/"+pod, "container", container, "err", err)
		return
	}
	_ = st.send("end", message{ID: "log-lines", Text: "The log ended: the container stopped, or the Pod is gone."})
}

// sendLines reads lines from body and sends them in batches of at most logBatch lines, at least
// every logFlush while lines come, until body ends (nil) or the browser goes (an error).
func sendLines(ctx context.Context, st *stream, body io.Reader) error {
	lines := make(chan string, logBatch)
	readErr := make(chan error, 1)
	go func() {
		defer close(lines)
		rd := bufio.NewReaderSize(body, 64<<10)
		for {
			line, err := readLine(rd)
			if line != "" || err == nil {
				select {
				case lines <- line:
				case <-ctx.Done():
					readErr <- ctx.Err()
					return
				}
			}
			if err != nil {
				if err == io.EOF {
					err = nil
				}
				readErr <- err
				return
			}
		}
	}()
	tick := time.NewTicker(logFlush)
	defer tick.Stop()
	keep := time.NewTicker(keepAlive)
	defer keep.Stop()
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := st.send("lines", logLines{ID: "log-lines", Lines: batch})
		batch = nil
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-keep.C:
			if _, err := fmt.Fprint(st.w, ": keep-alive\n\n"); err != nil {
				return err
			}
			st.f.Flush()
		case <-tick.C:
			if err := flush(); err != nil {
				return err
			}
		case line, ok := <-lines:
			if !ok {
				if err := flush(); err != nil {
					return err
				}
				return <-readErr
			}
			batch = append(batch, line)
			if len(batch) >= logBatch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
}

// readLine reads one line without its newline, cut at maxLogLine.
func readLine(rd *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		part, isPrefix, err := rd.ReadLine()
		if b.Len() < maxLogLine {
			b.Write(part[:min(len(part), maxLogLine-b.Len())])
		}
		if err != nil || !isPrefix {
			if b.Len() >= maxLogLine {
				b.WriteString(" … (line cut)")
			}
			return b.String(), err
		}
	}
}
