/**
 * Node.js flags the gateway process runs with; every launcher uses them (package.json's `gateway`
 * script, the demo, the integration tests and the benchmark), so what is measured is what is shipped.
 *
 * --max-semi-space-size=8 (MiB): Node 24's default young generation (32 MiB semi-spaces) is larger
 * than the gateway's free old-generation headroom, so V8 kept starting full collections (about one
 * per 10 small C-STOREs). 8 MiB halves them: ~20–30 % more instances/s (BENCHMARKS.md) and a smaller
 * resident set on a 1 GB board. It only works on the command line, not from inside the process.
 */
export const GATEWAY_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=8"];
