#!/usr/bin/env node
// Ask a RouteIQ sidecar for a routing decision over gRPC (routeiq.v1.RouterService/Route).
//
//   npm ci && node client.js --target 127.0.0.1:50051 --prompt "Prove Fermat's little theorem"
//
// Prints the RouteResponse as JSON on stdout (proto field names, defaults included) and the
// server's x-request-id (sent in trailing metadata) on stderr. On a gRPC error it prints
// {"error": {"code": "INVALID_ARGUMENT", "message": ...}} on stderr and exits 1.
//
// Also usable as a module: const { createClient, route } = require("./client.js").
"use strict";

const path = require("node:path");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");

// The contract lives at <repo>/proto; override with --proto-root or ROUTEIQ_PROTO_ROOT.
const DEFAULT_PROTO_ROOT = path.resolve(__dirname, "..", "..", "..", "proto");
const PROTO_FILE = "routeiq/v1/router.proto";

const DEFAULT_CANDIDATES = [
  { id: "cheap", model: "openai/gpt-4o-mini", input_cost_per_mtok: 0.15, output_cost_per_mtok: 0.6 },
  {
    id: "strong",
    model: "anthropic/claude-opus-4",
    input_cost_per_mtok: 15,
    output_cost_per_mtok: 75,
    capabilities: ["tools", "reasoning"],
  },
];

// grpc.status number -> name (INVALID_ARGUMENT, RESOURCE_EXHAUSTED, UNAVAILABLE, ...)
const STATUS_NAMES = Object.fromEntries(Object.entries(grpc.status).map(([k, v]) => [v, k]));

/** A RouterService client for `target` ("host:port"), plaintext unless credentials are given. */
function createClient(target, { protoRoot = DEFAULT_PROTO_ROOT, credentials } = {}) {
  const definition = protoLoader.loadSync(PROTO_FILE, {
    includeDirs: [protoRoot],
    keepCase: true, // snake_case field names, as in the REST API
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const routeiq = grpc.loadPackageDefinition(definition).routeiq.v1;
  return new routeiq.RouterService(target, credentials || grpc.credentials.createInsecure());
}

/**
 * One decision. Resolves with {response, requestId}; rejects with the gRPC error
 * (err.code is a grpc.status number, err.details the server's message naming the field).
 */
function route(client, request, { deadlineMs = 2000, metadata = new grpc.Metadata() } = {}) {
  return new Promise((resolve, reject) => {
    let outcome = null;
    const call = client.Route(
      request,
      metadata,
      { deadline: new Date(Date.now() + deadlineMs) },
      (err, response) => {
        outcome = { err, response };
      }
    );
    // grpc-js emits "status" (with the trailing metadata) right after the callback.
    call.on("status", (status) => {
      const values = status.metadata.get("x-request-id");
      const requestId = values.length ? String(values[0]) : "";
      if (!outcome || outcome.err) {
        const err = (outcome && outcome.err) || new Error(status.details);
        err.requestId = requestId;
        reject(err);
      } else {
        resolve({ response: outcome.response, requestId });
      }
    });
  });
}

function parseArgs(argv) {
  const opts = {
    target: process.env.ROUTEIQ_GRPC_TARGET || "127.0.0.1:50051",
    protoRoot: process.env.ROUTEIQ_PROTO_ROOT || DEFAULT_PROTO_ROOT,
    prompt: "Prove that there are infinitely many primes of the form 4k+3.",
    candidates: DEFAULT_CANDIDATES,
    profile: "",
    modelGroup: "",
    requestId: "",
    deadlineMs: 2000,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${flag} needs a value`);
      return argv[++i];
    };
    switch (flag) {
      case "--target": opts.target = value(); break;
      case "--proto-root": opts.protoRoot = value(); break;
      case "--prompt": opts.prompt = value(); break;
      case "--candidates": opts.candidates = JSON.parse(value()); break;
      case "--profile": opts.profile = value(); break;
      case "--model-group": opts.modelGroup = value(); break;
      case "--request-id": opts.requestId = value(); break;
      case "--deadline-ms": opts.deadlineMs = Number(value()); break;
      case "-h":
      case "--help":
        process.stdout.write(
          "usage: node client.js [--target HOST:PORT] [--prompt TEXT] [--candidates JSON]\n" +
            "                      [--profile auto|eco|premium|free|reasoning] [--model-group G]\n" +
            "                      [--request-id ID] [--deadline-ms N] [--proto-root DIR]\n"
        );
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${flag}`);
    }
  }
  return opts;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const client = createClient(opts.target, { protoRoot: opts.protoRoot });
  const request = {
    request_id: opts.requestId,
    model_group: opts.modelGroup,
    prompt: opts.prompt,
    candidates: opts.candidates,
    profile: opts.profile,
  };
  // The request id travels in the body and as x-request-id metadata (logs, trailers).
  const metadata = new grpc.Metadata();
  if (opts.requestId) metadata.set("x-request-id", opts.requestId);
  try {
    const { response, requestId } = await route(client, request, {
      deadlineMs: opts.deadlineMs,
      metadata,
    });
    process.stdout.write(JSON.stringify(response, null, 2) + "\n");
    if (requestId) process.stderr.write(`x-request-id: ${requestId}\n`);
  } catch (err) {
    const error = {
      code: STATUS_NAMES[err.code] || String(err.code),
      message: err.details || err.message,
      request_id: err.requestId || "",
    };
    process.stderr.write(JSON.stringify({ error }) + "\n");
    process.exitCode = 1;
  } finally {
    client.close();
  }
}

module.exports = { createClient, route, DEFAULT_CANDIDATES };

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`${err.message}\n`);
    process.exitCode = 2;
  });
}
