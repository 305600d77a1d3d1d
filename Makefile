# Ferry's build, test and development entry points. `make help` lists them.

GO ?= go
BIN_DIR ?= bin
# The whole suite: unit, registry (embedded etcd), integration (in-process server) and
# end-to-end (real kube-apiserver, kube-controller-manager and kubectl, built once into
# $$HOME/.cache/ferry by hack/build-control-plane.sh).
TEST_FLAGS ?= -count=1 -timeout 60m

.PHONY: help build install test test-unit test-faults soak fuzz verify update vet fmt-check tidy-check lint large-files

## help: list the targets
help:
	@grep -E '^## ' $(MAKEFILE_LIST) | sed 's/^## /  /'

## build: build ferry-apiserver into bin/
build:
	$(GO) build -o $(BIN_DIR)/ ./cmd/...

## install: go install ferry-apiserver and kubectl-ferry (on PATH, kubectl runs the plugin as `kubectl ferry`)
install:
	$(GO) install ./cmd/...

## test: run every test (the first run builds the local control plane, ~30 min once, and installs
## Debian's chromium for the web UI's browser test when it is missing); the
## package tests share one local control plane, started and stopped by hack/localstack exec;
## test/image (make image twice, the image's server run as the manifests' container as root, make
## release twice for this platform) runs after them, alone: it builds statically and starts a control plane
test:
	hack/ensure-chromium.sh
	$(GO) run ./hack/localstack exec -- $(GO) test $(TEST_FLAGS) $$($(GO) list ./... | grep -v /test/image$$)
	@echo ">>> test/image: building the image (static ferry-apiserver; the first build of a machine takes ~9 min) and running it as the manifests' container"
	$(GO) test $(TEST_FLAGS) ./test/image/

## test-unit: run the tests that need no control plane (skips test/e2e)
test-unit:
	$(GO) test $(TEST_FLAGS) -short ./...

## test-faults: the fault suite alone (test/faults: etcd outage, flaky Git, concurrent syncs, ...); make test runs it too
test-faults:
	$(GO) test $(TEST_FLAGS) -v ./test/faults/

## soak: 1,000 Applications for DURATION (default 30m), a commit a minute and hand edits; prints goroutines, open files, RSS and etcd size
DURATION ?= 30m
SOAK_APPS ?= 1000
soak:
	FERRY_SOAK_DURATION=$(DURATION) FERRY_SOAK_APPS=$(SOAK_APPS) FERRY_SOAK_TICK=1m \
	  $(GO) test -count=1 -v -timeout 3h -run '^TestSoak$$' ./test/faults/

## fuzz: run each fuzz target for FUZZTIME (default 1m) from its seeds; `go test` runs the seeds alone
FUZZTIME ?= 1m
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzRender$$' -fuzztime $(FUZZTIME) ./pkg/gitops/render/
	$(GO) test -run '^$$' -fuzz '^FuzzValidateApplication$$' -fuzztime $(FUZZTIME) ./pkg/apis/gitops/validation/

## update: regenerate generated code (hack/update-codegen.sh)
update:
	hack/update-codegen.sh

## verify: fail on stale generated code, gofmt, go vet, an untidy go.mod, golangci-lint, shellcheck or a tracked file over 1 MiB
verify: large-files fmt-check vet tidy-check lint
	hack/verify-codegen.sh

# A built binary or a data dump committed by accident makes every clone heavier for ever.
large-files:
	@big=$$(git ls-files -z | xargs -0 -r stat -c '%s %n' 2>/dev/null | awk '$$1 > 1048576 {print $$2}'); \
	if [ -n "$$big" ]; then echo "files over 1 MiB are tracked (build them, or keep them out of Git):"; echo "$$big"; exit 1; fi

## lint: golangci-lint (.golangci.yml) and shellcheck; builds golangci-lint once into ~/.cache/ferry
lint:
	hack/verify-lint.sh

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

tidy-check:
	@d=$$(mktemp -d); cp go.mod go.sum $$d/; $(GO) mod tidy; \
	if ! cmp -s go.mod $$d/go.mod || ! cmp -s go.sum $$d/go.sum; then \
	  echo "go.mod/go.sum are not tidy: run go mod tidy and commit"; cp $$d/go.mod $$d/go.sum .; rm -rf $$d; exit 1; fi; rm -rf $$d

# Local development stack and end-to-end tests. See hack/local-up.sh --help.

# make dev-up applies the example Application unless FERRY_DEMO=0.
FERRY_DEMO ?= 1
export FERRY_DEMO

.PHONY: dev-up dev-down dev-purge dev-restart-ferry e2e control-plane

## dev-up: start etcd, kube-apiserver, kube-controller-manager and ferry-apiserver on 127.0.0.1 (.dev/)
dev-up:
	hack/local-up.sh

## dev-down: stop the local stack, keeping its data
dev-down:
	hack/local-down.sh

## dev-purge: stop the local stack and delete .dev/
dev-purge:
	hack/local-down.sh --purge

## dev-restart-ferry: rebuild and restart only ferry-apiserver
dev-restart-ferry:
	hack/local-up.sh --restart-ferry

## control-plane: build (once) etcd, kube-apiserver, kube-controller-manager and kubectl into the cache
control-plane:
	hack/build-control-plane.sh

## e2e: run the end-to-end tests against a stack of their own on free ports
e2e:
	go test ./test/e2e/... -count=1 -timeout 30m -v

.PHONY: image

# What a build is stamped and labelled with: the checkout's tag (or describe output) and commit,
# and the commit's time, so that rebuilding a commit gives the same image.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.0.0-dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
COMMIT_TIME ?= $(shell git log -1 --format=%cI 2>/dev/null)
ARCH ?= $(shell $(GO) env GOARCH)

## image: build the ferry-apiserver image (static binary, CA certificates, user 65532, no shell) into dist/, from no base image and no registry; ARCH=arm64 for another architecture
image:
	$(GO) run ./hack/image --version "$(VERSION)" --commit "$(COMMIT)" --created "$(COMMIT_TIME)" --arch "$(ARCH)" --dist dist

.PHONY: release

## release: a release into dist/ — image tarballs (amd64, arm64), install.yaml per etcd mode, kubectl-ferry for linux/darwin x amd64/arm64, the Helm chart, the krew manifest and SHA256SUMS; VERSION must be vX.Y.Z (the tag)
release:
	$(GO) run ./hack/release --version "$(VERSION)" --commit "$(COMMIT)" --created "$(COMMIT_TIME)" --dist dist

.PHONY: bench bench-full bench-micro bench-peers

## bench: the benchmark driver at short sizes (1,000 Applications on the API, 100 on the controller in both layouts; minutes), results in bench/results.json
bench:
	$(GO) run ./bench $(BENCH_FLAGS)

## bench-full: the benchmark driver at full sizes (1,000 and 10,000 on the API, 100 and 1,000 on the controller)
bench-full:
	$(GO) run ./bench -full $(BENCH_FLAGS)

## bench-peers: the same workload (Flux's MTTP shape: plain YAML and kustomize at 100 and 1,000 apps, a Helm chart at 100) synced by Ferry, Flux and Argo CD in turn on one local control plane, and the floor (a client-go program making Ferry's requests); builds the peers first (hack/build-peers.sh, cached); results in bench/results-peers.json
bench-peers:
	$(GO) run ./bench -peers ferry,flux,argocd $(BENCH_FLAGS)

## bench-micro: Go micro-benchmarks (render, diff, health, status size, table), one package at a time, no control plane
bench-micro:
	$(GO) test -short -p 1 -run '^$$' -bench . -benchmem ./pkg/...
