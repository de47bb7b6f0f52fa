// Command routeiq-client asks a RouteIQ sidecar for a routing decision over gRPC
// (routeiq.v1.RouterService/Route), the way a Go gateway would.
//
//	go generate && go build && ./routeiq-client -target 127.0.0.1:50051 -prompt "hi there"
//
// It prints the RouteResponse as JSON on stdout (proto field names, defaults included) and
// the server's x-request-id (trailing metadata) on stderr. A gRPC error prints
// {"error": {"code": "INVALID_ARGUMENT", "message": ...}} on stderr and exits 1.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
	"unicode"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	routeiqv1 "example.com/routeiq-client/routeiqv1"
)

const defaultCandidates = `[
  {"id": "cheap", "model": "openai/gpt-4o-mini", "input_cost_per_mtok": 0.15, "output_cost_per_mtok": 0.6},
  {"id": "strong", "model": "anthropic/claude-opus-4", "input_cost_per_mtok": 15, "output_cost_per_mtok": 75,
   "capabilities": ["tools", "reasoning"]}
]`

func main() {
	target := flag.String("target", "127.0.0.1:50051", "RouteIQ gRPC address (host:port)")
	prompt := flag.String("prompt", "Prove that there are infinitely many primes of the form 4k+3.", "prompt to route")
	candidates := flag.String("candidates", defaultCandidates, "candidates as a JSON list (proto field names)")
	profile := flag.String("profile", "", "auto, eco, premium, free or reasoning (empty = server default)")
	modelGroup := flag.String("model-group", "", "model group (with no candidates: the server's catalogue)")
	requestID := flag.String("request-id", "", "request id, sent in the body and as x-request-id metadata")
	deadline := flag.Duration("deadline", 2*time.Second, "deadline of each call")
	health := flag.Bool("health", false, "check grpc.health.v1 first and print the status on stderr")
	flag.Parse()

	// grpc.WithInsecure keeps the example building with the gRPC-Go that Debian ships (1.33);
	// with a newer gRPC-Go, prefer grpc.WithTransportCredentials(insecure.NewCredentials()).
	conn, err := grpc.Dial(*target, grpc.WithInsecure()) //nolint:staticcheck
	if err != nil {
		fail(err)
	}
	defer conn.Close()

	if *health {
		ctx, cancel := context.WithTimeout(context.Background(), *deadline)
		resp, err := grpc_health_v1.NewHealthClient(conn).Check(ctx, &grpc_health_v1.HealthCheckRequest{})
		cancel()
		if err != nil {
			fail(err)
		}
		fmt.Fprintf(os.Stderr, "health: %s\n", resp.GetStatus())
	}

	// The request is built from JSON so the candidates flag takes the REST body's shape.
	body, err := json.Marshal(map[string]interface{}{
		"request_id":  *requestID,
		"model_group": *modelGroup,
		"prompt":      *prompt,
		"profile":     *profile,
		"candidates":  json.RawMessage(*candidates),
	})
	if err != nil {
		fail(err)
	}
	req := &routeiqv1.RouteRequest{}
	if err := protojson.Unmarshal(body, req); err != nil {
		fail(fmt.Errorf("bad request JSON: %w", err))
	}

	ctx, cancel := context.WithTimeout(context.Background(), *deadline)
	defer cancel()
	if *requestID != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "x-request-id", *requestID)
	}
	var trailer metadata.MD
	resp, err := routeiqv1.NewRouterServiceClient(conn).Route(ctx, req, grpc.Trailer(&trailer))
	if ids := trailer.Get("x-request-id"); len(ids) > 0 {
		fmt.Fprintf(os.Stderr, "x-request-id: %s\n", ids[0])
	}
	if err != nil {
		fail(err)
	}
	out, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true, Multiline: true}.Marshal(resp)
	if err != nil {
		fail(err)
	}
	fmt.Println(string(out))
}

// fail prints a gRPC status (or any error) as {"error": {"code", "message"}} and exits 1.
func fail(err error) {
	code, msg := "UNKNOWN", err.Error()
	if st, ok := status.FromError(err); ok {
		code, msg = upperSnake(st.Code().String()), st.Message()
	}
	out, _ := json.Marshal(map[string]map[string]string{"error": {"code": code, "message": msg}})
	fmt.Fprintln(os.Stderr, string(out))
	os.Exit(1)
}

// upperSnake turns gRPC-Go's code names (InvalidArgument) into the canonical INVALID_ARGUMENT.
func upperSnake(s string) string {
	if s == "OK" {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}
