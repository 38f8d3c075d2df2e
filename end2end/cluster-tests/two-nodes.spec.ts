import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { test, expect, type APIRequestContext, type Page } from "@playwright/test";
import { chatReady, createRoom, member, messages, send, signUp, uniqueName } from "../tests/helpers";

// The nodes' own addresses, from the cluster's node files (HEARTH_ADDR in end2end/cluster/N.env).
// Their /metrics answers this machine without a token.
const nodes = readdirSync(join(__dirname, "../cluster"))
  .filter((file) => /^\d+\.env$/.test(file))
  .sort()
  .map((file) => {
    const addr = /^HEARTH_ADDR=(.+)$/m.exec(readFileSync(join(__dirname, "../cluster", file), "utf8"))?.[1];
    if (!addr) throw new Error(`no HEARTH_ADDR in end2end/cluster/${file}`);
    return `http://${addr.trim()}`;
  });

/** Each node's open chat sockets (its `hearth_connections` gauge), read from the node itself. */
async function socketsPerNode(api: APIRequestContext): Promise<number[]> {
  return Promise.all(
    nodes.map(async (node) => {
      const response = await api.get(`${node}/metrics`);
      expect(response.ok(), `${node}/metrics`).toBeTruthy();
      const value = /^hearth_connections (\d+)/m.exec(await response.text())?.[1];
      if (value === undefined) throw new Error(`${node}/metrics has no hearth_connections`);
      return Number(value);
    }),
  );
}

/** The sockets per node once there are `total` of them in all (a reloaded page's old one gone). */
async function settledSockets(api: APIRequestContext, total: number): Promise<number[]> {
  let counts: number[] = [];
  await expect
    .poll(async () => (counts = await socketsPerNode(api)).reduce((a, b) => a + b, 0), {
      message: `${total} chat sockets on the nodes`,
    })
    .toBe(total);
  return counts;
}

/**
 * Reloads `page` until its socket is on another node than the first person's (`first`, the
 * node the only other socket is on). nginx deals requests round robin: an extra request through
 * it (to /healthz) before some of the reloads changes which node the socket's turn falls on.
 */
async function moveToOtherNode(api: APIRequestContext, page: Page, name: string, first: number) {
  for (let attempt = 0; attempt < 8; attempt++) {
    const counts = await settledSockets(api, 2);
    if (counts[first] === 1) return counts;
    for (let i = 0; i < attempt % 2; i++) expect((await api.get("/healthz")).ok()).toBeTruthy();
    await page.reload();
    await chatReady(page, name);
  }
  throw new Error("the second person's socket stayed on the first person's node after 8 reloads");
}

test("two people on two nodes talk in the lobby, a room and a direct conversation", async ({
  browser,
  request,
}) => {
  expect(nodes).toHaveLength(2);
  const alice = uniqueName("alice");
  const bob = uniqueName("bob");
  const room = uniqueName("Across nodes ");

  // Alice signs up through nginx; her socket is on one node.
  const a = await signUp(browser, alice);
  const first = (await settledSockets(request, 1)).indexOf(1);
  // Bob too, until his socket is on the other node.
  const b = await signUp(browser, bob);
  expect(await moveToOtherNode(request, b.page, bob, first)).toEqual([1, 1]);

  // Each is online in the other's members list: presence crosses the nodes (through Redis).
  await expect(member(a.page, bob)).toContainText("online");
  await expect(member(b.page, alice)).toContainText("online");

  // The lobby, both ways.
  await send(a.page, `Hello from node ${first + 1}`);
  await expect(messages(b.page).filter({ hasText: `Hello from node ${first + 1}` })).toContainText(alice);
  await send(b.page, "Hello from the other node");
  await expect(messages(a.page).filter({ hasText: "Hello from the other node" })).toContainText(bob);

  // Bob browses the rooms to join; Alice's new room appears there live, he joins it.
  await b.page.getByRole("button", { name: "Browse rooms" }).click();
  const toJoin = b.page.getByRole("list", { name: "Rooms to join" });
  await createRoom(a.page, room);
  await toJoin.getByRole("link", { name: room }).click();
  await expect(b.page.getByRole("heading", { level: 1 })).toHaveText(room);
  await b.page.getByRole("button", { name: "Join room" }).click();
  await expect(b.page.getByRole("button", { name: "Leave room" })).toBeVisible();
  await expect(messages(a.page).filter({ hasText: `${bob} joined` })).toBeVisible();

  // The room, both ways.
  await send(a.page, "Welcome to the room, Bob");
  await expect(messages(b.page).filter({ hasText: "Welcome to the room, Bob" })).toContainText(alice);
  await send(b.page, "Thanks, Alice");
  await expect(messages(a.page).filter({ hasText: "Thanks, Alice" })).toContainText(bob);
  await expect(member(a.page, bob)).toContainText("online");

  // A direct conversation: Alice opens it, Bob sees it arrive with one unread, and answers.
  await a.page.getByRole("button", { name: "New conversation" }).click();
  await a.page.getByRole("button", { name: bob, exact: true }).click();
  await expect(a.page.getByRole("heading", { level: 1 })).toHaveText(`@${bob}`);
  await send(a.page, "Just between us");
  const conversation = b.page.getByRole("navigation", { name: "Direct messages" }).getByRole("link", { name: alice });
  await expect(conversation).toHaveText(new RegExp(`${alice}\\s*1`));
  await conversation.click();
  await expect(b.page.getByRole("heading", { level: 1 })).toHaveText(`@${alice}`);
  await expect(messages(b.page).filter({ hasText: "Just between us" })).toContainText(alice);
  await send(b.page, "Agreed");
  await expect(messages(a.page).filter({ hasText: "Agreed" })).toContainText(bob);

  // All along, one socket on each node.
  expect(await socketsPerNode(request)).toEqual([1, 1]);

  await a.context.close();
  await b.context.close();
});
