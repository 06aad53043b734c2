import assert from "node:assert/strict";
import { test } from "node:test";
import { UP_KINDS } from "../../uploader/protocol/index.ts";
import { receiverFilters, SHARED_CHUNK_GROUP } from "./receiver.ts";

test("default: one plain subscription to every upward kind of the county", () => {
  assert.deepEqual(receiverFilters("c1", UP_KINDS), ["dxgate/v1/c1/+/up/+"]);
});

test("shared chunks: chunks through the group's shared subscription, every other kind plainly", () => {
  const filters = receiverFilters("c1", UP_KINDS, true);
  assert.ok(filters.includes(`$share/${SHARED_CHUNK_GROUP}/dxgate/v1/c1/+/up/chunk`));
  assert.ok(!filters.includes("dxgate/v1/c1/+/up/chunk"), "no plain chunk subscription: no duplicates");
  assert.ok(!filters.includes("dxgate/v1/c1/+/up/+"));
  for (const kind of UP_KINDS.filter((k) => k !== "chunk")) {
    assert.ok(filters.includes(`dxgate/v1/c1/+/up/${kind}`), kind);
  }
  assert.equal(filters.length, UP_KINDS.length);
});

test("a chunk worker: only the shared chunk subscription, of its group", () => {
  assert.deepEqual(receiverFilters("c1", ["chunk"], "g2"), ["$share/g2/dxgate/v1/c1/+/up/chunk"]);
  assert.deepEqual(receiverFilters("c1", ["chunk"]), ["dxgate/v1/c1/+/up/chunk"]);
});
