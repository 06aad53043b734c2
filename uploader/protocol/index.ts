/** The transfer protocol: the one module the box and the reading centre share. Imports nothing of ours. */
export * from "./codec.ts";
export * from "./messages.ts";
export * from "./ranges.ts";
export * from "./signing.ts";
export * from "./topics.ts";
