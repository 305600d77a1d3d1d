// Package fuzzer fills Applications with random but valid-shaped values for the round-trip tests.
package fuzzer

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeserializer "k8s.io/apimachinery/pkg/runtime/serializer"
	"sigs.k8s.io/randfill"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
)

// Funcs returns the fuzzer functions of the gitops API group. Decoding applies defaults, so
// the fuzzer sets every defaulted field; otherwise a round trip would "change" it.
var Funcs = func(codecs runtimeserializer.CodecFactory) []interface{} {
	return []interface{}{
		func(s *gitops.ApplicationSpec, c randfill.Continue) {
			c.FillNoCustom(s)
			if s.Source.Revision == "" {
				s.Source.Revision = "HEAD"
			}
			for i := range s.Sources {
				if s.Sources[i].Revision == "" {
					s.Sources[i].Revision = "HEAD"
				}
			}
			p := &s.SyncPolicy
			if p.Interval == nil {
				p.Interval = &metav1.Duration{Duration: time.Duration(c.Int63n(int64(time.Hour)))}
			}
			if p.WaveTimeout == nil {
				p.WaveTimeout = &metav1.Duration{Duration: time.Duration(c.Int63n(int64(time.Hour)))}
			}
			if p.Retry == nil {
				p.Retry = &gitops.RetryStrategy{}
			}
			if p.Retry.Limit == nil {
				limit := c.Int31n(10)
				p.Retry.Limit = &limit
			}
			if p.Retry.Backoff == nil {
				p.Retry.Backoff = &gitops.Backoff{}
			}
			b := p.Retry.Backoff
			if b.Duration == nil {
				b.Duration = &metav1.Duration{Duration: time.Second}
			}
			if b.Factor == nil {
				f := c.Int31n(10) + 1
				b.Factor = &f
			}
			if b.MaxDuration == nil {
				b.MaxDuration = &metav1.Duration{Duration: time.Minute}
			}
		},
		func(s *gitops.SyncWindowSpec, c randfill.Continue) {
			c.FillNoCustom(s)
			if s.TimeZone == "" {
				s.TimeZone = "UTC"
			}
		},
	}
}
