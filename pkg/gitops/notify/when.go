package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/google/cel-go/cel"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// whenCostLimit bounds the work of one evaluation of an Alert's spec.when (CEL's cost units:
// roughly one per operation and per element a comprehension visits), so that no expression a
// user writes can hold a worker.
const whenCostLimit = 100_000

var (
	whenEnvOnce sync.Once
	whenEnv     *cel.Env
	whenEnvErr  error
)

// env is the CEL environment of spec.when: `app`, the Application as its JSON (a map), and
// `trigger`, the trigger's name.
func env() (*cel.Env, error) {
	whenEnvOnce.Do(func() {
		whenEnv, whenEnvErr = cel.NewEnv(
			cel.Variable("app", cel.MapType(cel.StringType, cel.DynType)),
			cel.Variable("trigger", cel.StringType),
		)
	})
	return whenEnv, whenEnvErr
}

// When is a compiled spec.when.
type When struct {
	program cel.Program
}

// CompileWhen parses and type-checks expr, which must be a boolean expression over app and
// trigger. An empty expression is a nil *When, which always holds.
func CompileWhen(expr string) (*When, error) {
	if expr == "" {
		return nil, nil
	}
	e, err := env()
	if err != nil {
		return nil, fmt.Errorf("building the CEL environment: %w", err)
	}
	ast, issues := e.Compile(expr)
	if issues != nil && issues.Err() != nil {
		return nil, issues.Err()
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		return nil, fmt.Errorf("must be a boolean expression, not %s", ast.OutputType())
	}
	prg, err := e.Program(ast, cel.CostLimit(whenCostLimit), cel.InterruptCheckFrequency(100))
	if err != nil {
		return nil, err
	}
	return &When{program: prg}, nil
}

// Holds evaluates the expression for app and trigger. An error (a missing field, the cost
// limit) is returned, and means the alert is not sent.
func (w *When) Holds(app *v1alpha1.Application, trigger v1alpha1.AlertTrigger) (bool, error) {
	if w == nil {
		return true, nil
	}
	appMap, err := asMap(app)
	if err != nil {
		return false, err
	}
	out, _, err := w.program.Eval(map[string]any{"app": appMap, "trigger": string(trigger)})
	if err != nil {
		return false, fmt.Errorf("evaluating spec.when: %w", err)
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, errors.New("spec.when did not give a boolean")
	}
	return b, nil
}

// asMap is the Application as CEL sees it: its JSON, with apiVersion and kind, and without
// managedFields, which only cost evaluation time.
func asMap(app *v1alpha1.Application) (map[string]any, error) {
	a := app.DeepCopy()
	a.ManagedFields = nil
	a.APIVersion, a.Kind = v1alpha1.SchemeGroupVersion.String(), "Application"
	raw, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("encoding the Application for spec.when: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("decoding the Application for spec.when: %w", err)
	}
	return m, nil
}
