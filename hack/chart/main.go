// Command chart writes the generated templates of the Helm chart charts/ferry from the kustomize
// base and overlays of artifacts/ (see package install's ChartTemplates). hack/update-codegen.sh
// runs it; hack/verify-codegen.sh fails when its output is stale.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/ferry-gitops/ferry/pkg/install"
)

func main() {
	dir := flag.String("templates", "charts/ferry/templates", "the chart's templates directory")
	flag.Parse()
	files, err := install.ChartTemplates()
	if err == nil {
		err = write(*dir, files)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "hack/chart:", err)
		os.Exit(1)
	}
}

func write(dir string, files map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(dir, name), files[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}
