//go:build !linux

package worker

import (
	"errors"
	"runtime"
)

// confine refuses: renders are confined with Linux's seccomp, and Ferry renders nowhere else.
func confine() error {
	return errors.New("confining the render worker needs Linux (seccomp); Ferry does not render on " + runtime.GOOS)
}
