package main

// The gRPC stubs are generated from the repository's contract (proto/routeiq/v1/router.proto)
// into ./routeiqv1; needs protoc, protoc-gen-go and protoc-gen-go-grpc on PATH.
//go:generate protoc -I ../../../proto --go_out=. --go_opt=module=example.com/routeiq-client --go_opt=Mrouteiq/v1/router.proto=example.com/routeiq-client/routeiqv1 --go-grpc_out=. --go-grpc_opt=module=example.com/routeiq-client --go-grpc_opt=Mrouteiq/v1/router.proto=example.com/routeiq-client/routeiqv1 routeiq/v1/router.proto
