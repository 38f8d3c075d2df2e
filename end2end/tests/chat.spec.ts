import { test, expect } from "@playwright/test";
import { composer, createRoom, member, messages, send, signIn, signUp, uniqueName } from "./helpers";

test("two people create and join a room and talk both ways", async ({ browser }) => {
  const alice = uniqueName("alice");
  const bob = uniqueName("bob");
  const room = uniqueName("Study group ");
  const a = await signUp(browser, alice);
  const b = await signUp(browser, bob);

  // Bob is browsing the rooms he could join.
  await b.page.getByRole("button", { name: "Browse rooms" }).click();
  const toJoin = b.page.getByRole("list", { name: "Rooms to join" });

  // Alice creates the room and lands in it.
  await createRoom(a.page, room);
  await expect(a.page.getByRole("button", { name: "Leave room" })).toBeVisible();

  // Bob sees it appear live among the rooms to join, opens it and joins: it moves to his rooms.
  await toJoin.getByRole("link", { name: room }).click();
  await expect(b.page.getByRole("heading", { level: 1 })).toHaveText(room);
  await b.page.getByRole("button", { name: "Join room" }).click();
  await expect(b.page.getByRole("button", { name: "Leave room" })).toBeVisible();
  await expect(toJoin.getByRole("link", { name: room })).toHaveCount(0);
  await expect(b.page.getByRole("navigation", { name: "Rooms" }).getByRole("link", { name: room })).toBeVisible();
  await expect(messages(a.page).filter({ hasText: `${bob} joined` })).toBeVisible();

  // Messages go both ways, with author and time.
  await send(a.page, "Hi Bob, welcome!");
  const received = messages(b.page).filter({ hasText: "Hi Bob, welcome!" });
  await expect(received).toContainText(alice);
  await expect(received.locator("time")).toHaveText(/^\d\d:\d\d$/);
  await send(b.page, "Thanks Alice!");
  await expect(messages(a.page).filter({ hasText: "Thanks Alice!" })).toContainText(bob);

  // Both are members, online.
  await expect(member(a.page, bob)).toContainText("online");
  await expect(member(b.page, alice)).toContainText("online");

  await a.page.screenshot({ path: "../docs/screenshot.png" });
  await a.context.close();
  await b.context.close();
});

test("people see each other go online and offline", async ({ browser }) => {
  const alice = uniqueName("alice");
  const bob = uniqueName("bob");
  const a = await signUp(browser, alice);
  const b = await signUp(browser, bob);
  await expect(member(a.page, bob)).toContainText("online");

  // A second tab keeps Bob online; closing the last one takes him offline.
  const secondTab = await b.context.newPage();
  await secondTab.goto("/rooms/1");
  await expect(member(secondTab, bob)).toContainText("online");
  await b.page.close();
  await a.page.waitForTimeout(500);
  await expect(member(a.page, bob)).toContainText("online");
  await secondTab.close();
  await expect(member(a.page, bob)).toContainText("offline");

  await a.context.close();
  await b.context.close();
});

test("a private message waits for an offline person and shows an unread count, in the sidebar and the title", async ({ browser }) => {
  const alice = uniqueName("alice");
  const bob = uniqueName("bob");
  const eve = uniqueName("eve");
  const b = await signUp(browser, bob);
  await b.context.close(); // Bob is away.
  const a = await signUp(browser, alice);
  const e = await signUp(browser, eve);

  await a.page.getByRole("button", { name: "New conversation" }).click();
  await a.page.getByRole("button", { name: bob, exact: true }).click();
  await expect(a.page.getByRole("heading", { level: 1 })).toHaveText(`@${bob}`);
  await send(a.page, "Are you coming tomorrow?");
  await send(a.page, "Bring the slides");

  // Bob comes back: the conversation is there, with two unread.
  const back = await signIn(browser, bob);
  const conversation = back.page
    .getByRole("navigation", { name: "Direct messages" })
    .getByRole("link", { name: alice });
  await expect(conversation).toHaveText(new RegExp(`${alice}\\s*2`));
  // The tab's title says so too, and is plain again once they are read.
  await expect(back.page).toHaveTitle("(2) Hearth");
  await conversation.click();
  await expect(messages(back.page).filter({ hasText: "Bring the slides" })).toBeVisible();
  await expect(conversation).toHaveText(new RegExp(`^\\s*${alice}\\s*$`));
  await expect(back.page).toHaveTitle("Hearth");

  // Live now: a reply arrives at once, and the sender's other room shows its count.
  await a.page.getByRole("navigation", { name: "Rooms" }).getByRole("link", { name: "lobby" }).click();
  await send(back.page, "Yes, see you there");
  const fromBob = a.page.getByRole("navigation", { name: "Direct messages" }).getByRole("link", { name: bob });
  await expect(fromBob).toHaveText(new RegExp(`${bob}\\s*1`));
  await expect(a.page).toHaveTitle("(1) Hearth");

  // Eve has no such conversation.
  await expect(e.page.getByRole("navigation", { name: "Direct messages" }).getByRole("link")).toHaveCount(0);

  await a.context.close();
  await back.context.close();
  await e.context.close();
});

test("markup in a message, a username or a room name is shown as text", async ({ browser }) => {
  const name = `<i>${uniqueName("mallory")}</i>`;
  const room = `<b>Bold</b> ${uniqueName("room")}`;
  const a = await signUp(browser, name);
  await createRoom(a.page, room);

  const hostile = "<img src=x onerror=alert(1)>";
  await send(a.page, hostile);
  await expect(messages(a.page).filter({ hasText: hostile })).toContainText(name);
  await expect(a.page.getByRole("log", { name: "Messages" }).locator("img")).toHaveCount(0);
  await expect(a.page.locator("body b, body i")).toHaveCount(0);
  await expect(member(a.page, name)).toContainText("online");
  await a.context.close();
});

test("an empty or too long message gets an error and stays in the composer", async ({ browser }) => {
  const a = await signUp(browser, uniqueName("alice"));
  const box = composer(a.page);
  await box.press("Enter");
  await expect(a.page.getByRole("alert")).toContainText("Type a message first");

  const long = "x".repeat(4001);
  await box.fill(long);
  await box.press("Enter");
  await expect(a.page.getByRole("alert")).toContainText("at most 4000");
  await expect(box).toHaveValue(long);

  // Shift+Enter makes a new line instead of sending.
  await box.fill("first line");
  await box.press("Shift+Enter");
  await box.pressSequentially("second line");
  await expect(box).toHaveValue("first line\nsecond line");
  await box.press("Enter");
  await expect(box).toHaveValue("");
  await expect(messages(a.page).last()).toContainText("first line\nsecond line");
  await a.context.close();
});

test("a renamed room changes and a deleted room sends its viewers to the lobby", async ({ browser }) => {
  const alice = uniqueName("alice");
  const bob = uniqueName("bob");
  const room = uniqueName("Planning ");
  const a = await signUp(browser, alice);
  const b = await signUp(browser, bob);

  await createRoom(a.page, room);

  const rooms = b.page.getByRole("navigation", { name: "Rooms" });
  await rooms.getByRole("button", { name: "Browse rooms" }).click();
  await rooms.getByRole("link", { name: room }).click();
  await expect(b.page.getByRole("heading", { level: 1 })).toHaveText(room);
  // Bob did not create it: he cannot rename or delete it.
  await expect(b.page.getByRole("button", { name: "Rename room" })).toHaveCount(0);

  await a.page.getByRole("button", { name: "Rename room" }).click();
  await a.page.getByRole("textbox", { name: "New room name" }).fill(`${room} 2027`);
  await a.page.getByRole("button", { name: "Save name" }).click();
  await expect(b.page.getByRole("heading", { level: 1 })).toHaveText(`${room} 2027`);
  await expect(rooms.getByRole("link", { name: `${room} 2027` })).toBeVisible();

  await a.page.getByRole("button", { name: "Delete room" }).click();
  await a.page.getByRole("button", { name: "Confirm delete" }).click();
  await expect(b.page.getByRole("alert")).toContainText("no longer exists");
  await expect(b.page).toHaveURL(/\/rooms\/1$/);
  await expect(b.page.getByRole("heading", { level: 1 })).toHaveText("lobby");
  await expect(rooms.getByRole("link", { name: `${room} 2027` })).toHaveCount(0);

  await a.context.close();
  await b.context.close();
});
