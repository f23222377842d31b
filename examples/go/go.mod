// Written by `aether gen` (servers/devtools/packaging.py); do not edit.
// Offline: `aether go-vendor` writes vendor/ from Debian's packages (not in git), then
// `go build` uses it; online: `go mod tidy` fetches the modules from proxy.golang.org.
module github.com/aether-dev/aether/examples/go

go 1.19

require (
	github.com/aether-dev/aether/gen/go v0.1.0
	github.com/golang/protobuf v1.5.2
	google.golang.org/genproto v0.0.0-20200413115906-b5235f65be36
	google.golang.org/grpc v1.33.3
	google.golang.org/protobuf v1.28.1
)

require (
	golang.org/x/net v0.7.0 // indirect
	golang.org/x/sys v0.3.0 // indirect
	golang.org/x/text v0.7.0 // indirect
)

replace github.com/aether-dev/aether/gen/go => ../../gen/go
