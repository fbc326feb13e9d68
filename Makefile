# privlink — `make help` lists the targets.
.DEFAULT_GOAL := help
GO ?= go

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-13s %s\n", $$1, $$2}'

build: ## build the static binary ./privlink
	CGO_ENABLED=0 $(GO) build -o privlink ./cmd/privlink

run: ## run privlink with embedded storage in ./privlink-data
	$(GO) run ./cmd/privlink serve

test: ## run the default suite with the race detector (CI runs it with PRIVLINK_SLOW_TESTS=1: bash .ci/run)
	$(GO) test -race ./...

lint: ## gofmt, go vet and staticcheck (go install honnef.co/go/tools/cmd/staticcheck@latest)
	@test -z "$$(gofmt -l .)" || (gofmt -l . && exit 1)
	$(GO) vet ./...
	staticcheck ./...

catalog: ## regenerate internal/catalog/sdks.txt from npm (and from checkouts: BICEP_TYPES_AZ specs.txt, AZURE_REST_API_SPECS restspecs.txt, AZURE_QUICKSTART_TEMPLATES templates.txt)
	$(GO) generate ./internal/catalog

roles: ## regenerate internal/authz/builtin/roles.json, Azure's built-in roles, from AZURE_BUILTIN_ROLES (a clone of easimon/azure-builtin-roles)
	$(GO) generate ./internal/authz/builtin

bench: ## go test benchmarks, then the wrk load run (needs wrk)
	$(GO) test -run '^$$' -bench . -benchtime 20000x ./internal/bench/ ./internal/store/sqlite/
	bash bench/run.sh 10

bench-scale: ## the embedded store with 100,000 endpoints beside the baseline revision (bench/scale.sh)
	bash bench/scale.sh 100000 ae4f1a3 100

screenshots: ## regenerate docs/screenshots/*.png: the portal's main pages, walked in headless Chromium
	PRIVLINK_SLOW_TESTS=1 PRIVLINK_SCREENSHOTS=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run '^TestScreenshots$$' ./internal/e2e/portal/

.PHONY: help build run test lint catalog roles bench bench-scale screenshots
