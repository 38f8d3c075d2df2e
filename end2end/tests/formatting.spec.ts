import { test, expect } from "@playwright/test";
import { composer, createRoom, messages, send, signUp, uniqueName } from "./helpers";

test("messages show code, bold, italic, line breaks and safe links, and markup stays text", async ({ browser }) => {
  const alice = uniqueName("alice");
  const bob = uniqueName("bob");
  const a = await signUp(browser, alice);
  const b = await signUp(browser, bob);
  const roomId = await createRoom(a.page, uniqueName("Format "));
  await b.page.goto(`/rooms/${roomId}`);
  await b.page.getByRole("button", { name: "Join room" }).click();
  await expect(b.page.getByRole("button", { name: "Leave room" })).toBeVisible();

  await send(a.page, "**Read** _this_ first: `cargo test` at https://example.com/docs.");
  const row = messages(b.page).filter({ hasText: "cargo test" });
  await expect(row.locator("strong")).toHaveText("Read");
  await expect(row.locator("em")).toHaveText("this");
  await expect(row.locator("code")).toHaveText("cargo test");
  const link = row.getByRole("link", { name: "https://example.com/docs" });
  await expect(link).toHaveAttribute("href", "https://example.com/docs");
  await expect(link).toHaveAttribute("target", "_blank");
  await expect(link).toHaveAttribute("rel", "noopener noreferrer nofollow");

  // A fenced block and line breaks (Shift+Enter), as typed.
  await composer(a.page).fill("two lines\nhere\n```\nfn main() {}\n```");
  await composer(a.page).press("Enter");
  const block = messages(b.page).filter({ hasText: "fn main() {}" });
  await expect(block.locator("pre code")).toHaveText("fn main() {}");
  await expect(block.getByText(/two lines\s+here/)).toBeVisible();

  // Markup and script addresses are text, never elements or links.
  const attack = `<img src=x onerror="document.title='owned'"> javascript:alert(1) [x](javascript:alert(1))`;
  await send(a.page, attack);
  const hostile = messages(b.page).filter({ hasText: "onerror" });
  await expect(hostile).toContainText(attack);
  await expect(hostile.locator("img")).toHaveCount(0);
  await expect(hostile.getByRole("link")).toHaveCount(0);
  expect(await b.page.title()).not.toContain("owned");

  await a.context.close();
  await b.context.close();
});
