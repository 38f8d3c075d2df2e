import { test, expect } from "@playwright/test";
import { composer, createRoom, messages, signUp, uniqueName } from "./helpers";

test("typing @ offers the room's members, and the person mentioned sees it marked", async ({ browser }) => {
  const alice = uniqueName("alice");
  const bob = uniqueName("bob");
  const a = await signUp(browser, alice);
  const b = await signUp(browser, bob);
  const roomId = await createRoom(a.page, uniqueName("Mentions "));
  await b.page.goto(`/rooms/${roomId}`);
  await b.page.getByRole("button", { name: "Join room" }).click();
  await expect(b.page.getByRole("button", { name: "Leave room" })).toBeVisible();
  await expect(
    a.page.getByRole("complementary", { name: "Members" }).getByRole("listitem").filter({ hasText: bob }),
  ).toHaveCount(1);

  await composer(a.page).pressSequentially(`look @${bob.slice(0, 2)}`, { delay: 20 });
  const offered = a.page.getByRole("listbox", { name: "Mention suggestions" });
  await expect(offered.getByRole("option", { name: `@${bob}` })).toBeVisible();
  await composer(a.page).press("Enter");
  await expect(offered).toHaveCount(0);
  await expect(composer(a.page)).toHaveValue(`look @${bob} `);
  await composer(a.page).pressSequentially("here", { delay: 20 });
  await composer(a.page).press("Enter");

  const row = messages(b.page).filter({ hasText: "here" });
  await expect(row.locator(".mention.me")).toHaveText(`@${bob}`);
  // For everyone else the name stands out, but not as their own.
  const own = messages(a.page).filter({ hasText: "here" });
  await expect(own.locator(".mention")).toHaveText(`@${bob}`);
  await expect(own.locator(".mention.me")).toHaveCount(0);

  await a.context.close();
  await b.context.close();
});
