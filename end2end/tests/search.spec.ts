import { test, expect } from "@playwright/test";
import { createRoom, messages, postMany, send, signUp, uniqueName } from "./helpers";

test("search finds what one may read, marks the words, and opens the room at the message", async ({ browser }) => {
  const alice = uniqueName("alice");
  const bob = uniqueName("bob");
  // A word of this run only: the database is shared by every test.
  const word = uniqueName("quokka");
  const a = await signUp(browser, alice);
  const b = await signUp(browser, bob);

  // Alice's private room: Bob's search never looks there.
  await createRoom(a.page, uniqueName("Secret "), "Private");
  await send(a.page, `the private ${word} plan`);

  // A public room Bob has not joined, with the message deep in its history.
  const room = uniqueName("Zoo ");
  const roomId = await createRoom(a.page, room);
  await postMany(a.page, roomId, [
    ...Array.from({ length: 10 }, (_, i) => `before ${i + 1}`),
    `where is the <b>${word}</b>?`,
    `我们明天考试 ${word}`,
    ...Array.from({ length: 120 }, (_, i) => `after ${i + 1}`),
  ]);

  await b.page.getByRole("searchbox", { name: "Search messages" }).fill(word);
  await b.page.getByRole("searchbox", { name: "Search messages" }).press("Enter");
  const results = b.page.getByRole("region", { name: "Search results" });
  const hits = results.getByRole("listitem");
  await expect(hits).toHaveCount(2);
  // Newest first, each with its room and author; the private room's message is not there.
  await expect(hits.nth(0)).toContainText(`#${room}`);
  await expect(hits.nth(0)).toContainText(alice);
  await expect(hits.nth(0)).toContainText("我们明天考试");
  await expect(results).not.toContainText("private");
  // The words found are marked, and markup in a message stays text.
  await expect(hits.nth(1).locator("mark")).toHaveText(word);
  await expect(hits.nth(1)).toContainText(`where is the <b>${word}</b>?`);
  await expect(results.locator("b")).toHaveCount(0);

  // Chinese is found without spaces.
  await b.page.getByRole("searchbox", { name: "Search messages" }).fill(`明天考试 ${word}`);
  await b.page.getByRole("button", { name: "Search", exact: true }).click();
  await expect(hits).toHaveCount(1);
  await expect(hits.nth(0).locator("mark").first()).toHaveText("明天考试");

  // Choosing a result opens the room there, with its neighbours.
  await hits.nth(0).getByRole("button").click();
  await expect(results).toHaveCount(0);
  await b.page.waitForURL(`**/rooms/${roomId}`);
  await expect(b.page.getByRole("heading", { level: 1 })).toHaveText(room);
  const found = messages(b.page).filter({ hasText: "我们明天考试" });
  await expect(found).toBeInViewport();
  await expect(messages(b.page).filter({ hasText: /before 10$/ })).toHaveCount(1);
  await expect(messages(b.page).filter({ hasText: /after 120$/ })).toHaveCount(0);

  // Scrolling down brings the newer messages, up to the newest.
  const log = b.page.getByRole("log", { name: "Messages" });
  for (let i = 0; i < 6; i++) {
    await log.evaluate((el) => el.scrollTo(0, el.scrollHeight));
    if (await messages(b.page).filter({ hasText: /after 120$/ }).count()) break;
    await b.page.waitForTimeout(300);
  }
  await expect(messages(b.page).filter({ hasText: /after 120$/ })).toHaveCount(1);
  await expect(messages(b.page).filter({ hasText: /after 60$/ })).toHaveCount(1);

  await a.context.close();
  await b.context.close();
});
