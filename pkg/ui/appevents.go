package ui

import (
	"net/http"
	"net/url"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// eventRow is one Kubernetes Event about the Application.
type eventRow struct {
	Type, Reason, Message, From, Age, When string
	Count                                  int32
}

// eventTime is when an Event last happened, whichever API wrote it.
func eventTime(e *corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

// handleAppEvents lists, as the person using the UI, the Events whose involvedObject is the
// Application, newest first.
func (s *Server) handleAppEvents(w http.ResponseWriter, r *http.Request) {
	p := s.newSubPage(r, "Events")
	if s.cfg.Kube == nil {
		p.Error, p.Status = "the UI has no Kubernetes client to read Events with", http.StatusServiceUnavailable
		s.renderSub(w, "events", p)
		return
	}
	list, err := s.cfg.Kube.CoreV1().Events(p.Namespace).List(r.Context(), metav1.ListOptions{FieldSelector: appEventsSelector(p.Name, p.Namespace)})
	if err != nil {
		p.refused(err)
		s.renderSub(w, "events", p)
		return
	}
	p.View = eventRows(s.cfg.Now(), list.Items, p.Namespace, p.Name)
	p.Events = "/events?" + url.Values{"view": {"appevents"}, "namespace": {p.Namespace}, "name": {p.Name}}.Encode()
	s.renderSub(w, "events", p)
}

// appEventsSelector selects the Events about the Application.
func appEventsSelector(name, namespace string) string {
	return fields.Set{"involvedObject.kind": "Application", "involvedObject.name": name, "involvedObject.namespace": namespace}.AsSelector().String()
}

// eventRows are the Events of events about the Application, newest first.
func eventRows(now time.Time, events []corev1.Event, namespace, name string) []eventRow {
	var items []corev1.Event
	for _, e := range events {
		// The selector already chose these; checked again so an Event of another kind that
		// shares the name never shows.
		if e.InvolvedObject.Kind == "Application" && e.InvolvedObject.Name == name && e.InvolvedObject.Namespace == namespace {
			items = append(items, e)
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return eventTime(&items[i]).After(eventTime(&items[j])) })
	rows := []eventRow{}
	for i := range items {
		e := &items[i]
		when := metav1.NewTime(eventTime(e))
		from := e.Source.Component
		if from == "" {
			from = e.ReportingController
		}
		rows = append(rows, eventRow{Type: e.Type, Reason: e.Reason, Message: e.Message, From: from, Count: e.Count,
			Age: ago(now, &when), When: when.UTC().Format(time.RFC3339)})
	}
	return rows
}
