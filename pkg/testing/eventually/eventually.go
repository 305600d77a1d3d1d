// Package eventually is how Ferry's tests wait for something: poll a condition with a deadline,
// never sleep a fixed time and hope.
package eventually

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// Until polls cond every interval, at once first, until it reports true, and fails the test
// after timeout with what and cond's last explanation.
func Until(t testing.TB, timeout, interval time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(context.Background(), interval, timeout, true, func(context.Context) (bool, error) {
		var ok bool
		ok, last = cond()
		return ok, nil
	})
	if err != nil {
		t.Fatalf("%s: not true after %s; last: %s", what, timeout, last)
	}
}
