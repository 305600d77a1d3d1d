package v1alpha1_test

import (
	"encoding/json"
	"testing"
)

// TestStatusOfALargeApplicationStaysSmall: etcd refuses objects over 1.5 MiB, where Argo CD's
// Applications break near 3,000 resources. An Application managing 5,000 objects with realistic
// names, a full history and every condition must stay well under 1 MiB in JSON and protobuf.
// BenchmarkLargeStatus reports the sizes and the cost of encoding them.
func TestStatusOfALargeApplicationStaysSmall(t *testing.T) {
	app := largeApplication(inventorySize)
	j, err := json.Marshal(app)
	if err != nil {
		t.Fatal(err)
	}
	p, err := app.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("5,000-object Application: %d KiB JSON, %d KiB protobuf", len(j)>>10, len(p)>>10)
	if len(j) >= 1<<20 || len(p) >= 1<<20 {
		t.Errorf("5,000-object Application is %d bytes JSON, %d protobuf: over 1 MiB", len(j), len(p))
	}
}
