import { test, expect, Page } from "@playwright/test";
import { createRoom, messages, postMany, send, signUp, uniqueName } from "./helpers";

async function scrollState(page: Page) {
  return page.getByRole("log", { name: "Messages" }).evaluate((el) => ({
    top: el.scrollTop,
    fromBottom: el.scrollHeight - el.scrollTop - el.clientHeight,
  }));
}

test("the message list follows the newest message until the reader scrolls up", async ({ browser }) => {
  const alice = uniqueName("alice");
  const bob = uniqueName("bob");
  const room = uniqueName("Busy ");
  const a = await signUp(browser, alice);
  const b = await signUp(browser, bob);

  // A fresh room, so the counts below are exact.
  const roomId = await createRoom(a.page, room);
  await b.page.goto(`/rooms/${roomId}`);
  await b.page.getByRole("button", { name: "Join room" }).click();
  await expect(b.page.getByRole("button", { name: "Leave room" })).toBeVisible();

  // 120 messages arrive while Alice reads at the bottom: she follows them.
  await postMany(b.page, roomId, Array.from({ length: 120 }, (_, i) => `burst ${i + 1}`));
  await expect(messages(a.page).filter({ hasText: /^.*burst 120$/ })).toBeInViewport();
  await expect.poll(async () => (await scrollState(a.page)).fromBottom).toBeLessThan(40);
  await expect(a.page.getByRole("button", { name: "Jump to newest" })).toHaveCount(0);

  // She scrolls up: new messages no longer pull her down, and the jump button appears.
  await a.page.getByRole("log", { name: "Messages" }).evaluate((el) => el.scrollTo(0, el.scrollHeight / 2));
  await expect(a.page.getByRole("button", { name: "Jump to newest" })).toBeVisible();
  const before = await scrollState(a.page);
  await send(b.page, "news while she reads");
  await expect(messages(a.page).filter({ hasText: "news while she reads" })).toHaveCount(1);
  await expect(messages(a.page).filter({ hasText: "news while she reads" })).not.toBeInViewport();
  expect((await scrollState(a.page)).top).toBeCloseTo(before.top, -1);

  await a.page.getByRole("button", { name: "Jump to newest" }).click();
  await expect(messages(a.page).filter({ hasText: "news while she reads" })).toBeInViewport();
  await expect(a.page.getByRole("button", { name: "Jump to newest" })).toHaveCount(0);

  await a.context.close();
  await b.context.close();
});

test("scrolling up loads older history without the view jumping", async ({ browser }) => {
  const alice = uniqueName("alice");
  const room = uniqueName("Archive ");
  const a = await signUp(browser, alice);
  const roomId = await createRoom(a.page, room);
  await postMany(a.page, roomId, Array.from({ length: 130 }, (_, i) => `old ${i + 1}`));

  // Coming back later: only the newest 50 are loaded.
  await a.page.reload();
  await expect(messages(a.page).filter({ hasText: /old 130$/ })).toBeInViewport();
  await expect(messages(a.page)).toHaveCount(50);

  // Scrolling to the top fetches the page before; what was on screen stays on screen.
  const log = a.page.getByRole("log", { name: "Messages" });
  const firstLoaded = messages(a.page).filter({ hasText: /old 81$/ });
  await log.evaluate((el) => el.scrollTo(0, 0));
  await expect(messages(a.page)).toHaveCount(100);
  await expect(firstLoaded).toBeInViewport();
  await log.evaluate((el) => el.scrollTo(0, 0));
  await expect(messages(a.page)).toHaveCount(131); // 130 messages and the "joined" notice
  await expect(messages(a.page).first()).toContainText(`${alice} joined`);
  await a.context.close();
});
