package v1alpha1_test

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/apitesting/roundtrip"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops/fuzzer"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/install"
)

// TestRoundTrip fills every type with random values and checks that internal -> v1alpha1 ->
// internal and JSON encoding lose nothing: a field missed by conversion or by a tag fails here.
func TestRoundTrip(t *testing.T) {
	roundtrip.RoundTripTestForAPIGroup(t, install.Install, fuzzer.Funcs)
}

// TestProtobufRoundTrip does the same through the protobuf serializer, as clients asking for
// application/vnd.kubernetes.protobuf use it: a field without a protobuf tag, or a generated.pb.go
// stale against types.go, loses data here.
func TestProtobufRoundTrip(t *testing.T) {
	roundtrip.RoundTripProtobufTestForAPIGroup(t, install.Install, fuzzer.Funcs)
}
