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
