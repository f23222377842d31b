// Module mode (online): `go mod tidy && go run .`; the replace points at this checkout.
// Offline (Debian's Go packages, GOPATH mode): see the README, "Clients in other languages".
module github.com/aether-dev/aether/examples/go

go 1.19

require github.com/aether-dev/aether/gen/go v0.1.0

replace github.com/aether-dev/aether/gen/go => ../../gen/go
