import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import mqtt, { type MqttClient } from "mqtt";
import { downTopic, downWildcard, upTopic, upWildcard } from "../../uploader/protocol/index.ts";
import { disposeRc, type RunningRc, startRc, type TestBoxCredentials } from "../testing/harness.ts";
import { isSiteDownFilter } from "./acl.ts";

let rc: RunningRc;
let box: TestBoxCredentials;
before(async () => {
  rc = await startRc();
  box = await rc.addBox("acl-site");
});
after(async () => disposeRc(rc));

/** The registered box acl-site (its own credentials), with another client id when given. */
function connect(clientId = box.clientId): Promise<MqttClient> {
  return mqtt.connectAsync(
    `mqtt://127.0.0.1:${rc.mqttPort}`,
    { protocolVersion: 4, clientId, username: box.username, password: box.password, reconnectPeriod: 0 },
    false,
  );
}

/** Publish QoS 1 and report whether the broker closed the connection instead of acknowledging. */
async function publishIsRefused(
  client: MqttClient,
  topic: string,
  options: { retain?: boolean } = {},
): Promise<boolean> {
  const closed = new Promise<boolean>((resolve) => client.once("close", () => resolve(true)));
  const acked = client.publishAsync(topic, "{}", { qos: 1, retain: options.retain ?? false }).then(
    () => false,
    () => true,
  );
  return Promise.race([closed, acked]);
}

test("a box may publish its up topics but not down, foreign-county, $SYS or retained non-status ones", async () => {
  const site = { countyId: "county", siteId: "acl-site" };
  const cases: Array<[string, boolean, boolean?]> = [
    [upTopic(site, "status"), false],
    [upTopic(site, "status"), false, true],
    [downTopic(site, "report"), true],
    [upTopic({ countyId: "other", siteId: "acl-site" }, "manifest"), true],
    ["$SYS/anything", true],
    ["random/topic", true],
    [upTopic(site, "chunk"), true, true],
    [upTopic(site, "preview"), false],
    [upTopic(site, "preview"), true, true],
  ];
  for (const [topic, refused, retain] of cases) {
    const client = await connect();
    try {
      assert.equal(
        await publishIsRefused(client, topic, { retain: retain ?? false }),
        refused,
        `${topic} retain=${retain}`,
      );
    } finally {
      await client.endAsync(true);
    }
  }
});

test("a box may subscribe to its own site's down topics only", async () => {
  const client = await connect();
  try {
    const site = { countyId: "county", siteId: "acl-site" };
    const other = { countyId: "county", siteId: "other-site" };
    // mqtt.js rejects when any filter is refused; the SUBACK it carries has the per-filter codes.
    const error = await client
      .subscribeAsync(
        [
          downWildcard(site),
          downTopic(site, "report"),
          upWildcard("county"),
          "#",
          "$SYS/#",
          downWildcard(other),
          downTopic(other, "report"),
        ],
        { qos: 1 },
      )
      .then(
        () => undefined,
        (e: unknown) => e as { packet?: { granted?: number[] } },
      );
    assert.deepEqual(error?.packet?.granted, [1, 1, 128, 128, 128, 128, 128]);
  } finally {
    await client.endAsync(true);
  }
});

test("the reading centre's client ids cannot be taken by a box", async () => {
  await assert.rejects(connect("dxgate-rc-receiver-county"), { code: 2 });
  const internal = mqtt.connectAsync(
    `mqtt://127.0.0.1:${rc.mqttPort}`,
    {
      protocolVersion: 4,
      clientId: "x",
      username: "dxgate-rc-internal",
      password: "guess",
      reconnectPeriod: 0,
    },
    false,
  );
  await assert.rejects(internal);
});

test("isSiteDownFilter accepts exactly a site's down topics in this county", () => {
  assert.equal(isSiteDownFilter("dxgate/v1/county/s1/down/+", "county"), true);
  assert.equal(isSiteDownFilter("dxgate/v1/county/s1/down/report", "county"), true);
  assert.equal(isSiteDownFilter("dxgate/v1/county/+/down/+", "county"), false);
  assert.equal(isSiteDownFilter("dxgate/v1/other/s1/down/+", "county"), false);
  assert.equal(isSiteDownFilter("dxgate/v1/county/s1/up/+", "county"), false);
  assert.equal(isSiteDownFilter("dxgate/v1/county/s1/down/#", "county"), false);
  assert.equal(isSiteDownFilter("dxgate/v1/county/s1/down/+", "county", "s1"), true);
  assert.equal(isSiteDownFilter("dxgate/v1/county/s2/down/+", "county", "s1"), false);
});
