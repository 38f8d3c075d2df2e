import { test, expect } from "@playwright/test";
import { composer, createRoom, messages, signUp, uniqueName } from "./helpers";

test("someone typing shows under the messages until their message arrives", async ({ browser }) => {
  const alice = uniqueName("alice");
  const bob = uniqueName("bob");
  const a = await signUp(browser, alice);
  const b = await signUp(browser, bob);
  // A room of their own: other tests' typists never show here.
  const roomId = await createRoom(a.page, uniqueName("Typing "));
  await b.page.goto(`/rooms/${roomId}`);
  await b.page.getByRole("button", { name: "Join room" }).click();
  await expect(b.page.getByRole("button", { name: "Leave room" })).toBeVisible();

  await composer(b.page).pressSequentially("hello the", { delay: 30 });
  await expect(a.page.getByText(`${bob} is typing…`)).toBeVisible();
  // Never to the typist themself.
  await expect(b.page.getByText(`${bob} is typing…`)).toHaveCount(0);

  await composer(b.page).pressSequentially("re", { delay: 30 });
  await composer(b.page).press("Enter");
  await expect(messages(a.page).filter({ hasText: "hello there" })).toBeVisible();
  await expect(a.page.getByText(`${bob} is typing…`)).toHaveCount(0);

  // Typing again (a person's typing is passed on once every 3 s), then stopping: the line
  // goes by itself.
  await b.page.waitForTimeout(3_100);
  await composer(b.page).pressSequentially("one more", { delay: 30 });
  await expect(a.page.getByText(`${bob} is typing…`)).toBeVisible();
  await expect(a.page.getByText(`${bob} is typing…`)).toHaveCount(0, { timeout: 10_000 });

  await a.context.close();
  await b.context.close();
});
