/** The transfer protocol: the one module the box and the reading centre share. Imports nothing of ours. */
export * from "./codec.ts";
export * from "./messages.ts";
export * from "./topics.ts";
