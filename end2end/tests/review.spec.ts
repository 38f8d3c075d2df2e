import { readFile } from "node:fs/promises";
import { test, expect, type Browser, type Page } from "@playwright/test";
import { createRoom, messages, send, setRole, signInAdmin, signUp, uniqueName } from "./helpers";

// Review and feedback: teachers read what their class wrote on /review, grade it, export it, and
// answer single messages with feedback that only the author (and teachers) see.

/** Signs up `name` and has the administrator make them a Teacher; their open tab hears it live. */
async function teacher(browser: Browser, name: string) {
  const t = await signUp(browser, name);
  const admin = await signInAdmin(browser);
  await setRole(admin.page, name, "Teacher");
  await admin.context.close();
  await expect(t.page.getByRole("link", { name: "Review", exact: true })).toBeVisible();
  return t;
}

/** On /review, shows the room named `room`. */
async function review(page: Page, room: string) {
  await page.getByRole("link", { name: "Review", exact: true }).click();
  await expect(page.getByRole("heading", { name: "Review", level: 1 })).toBeVisible();
  await page.getByRole("combobox", { name: "Room" }).selectOption({ label: room });
  await page.getByRole("button", { name: "Show" }).click();
  await expect(page.getByRole("heading", { name: room, level: 2 })).toBeVisible();
}

test("a teacher gives feedback on a student's message and the student's Feedback link counts it live", async ({
  browser,
}) => {
  const t = await teacher(browser, uniqueName("teacher"));
  const student = uniqueName("sam");
  const s = await signUp(browser, student);
  await expect(s.page.getByRole("link", { name: "Feedback", exact: true })).toBeVisible();
  // Students have no review.
  await expect(s.page.getByRole("link", { name: "Review", exact: true })).toHaveCount(0);

  const answer = uniqueName("Plants turn light into sugar ");
  await send(s.page, answer);
  const row = messages(t.page).filter({ hasText: answer });
  await row.hover();
  await row.getByRole("button", { name: "Give feedback" }).click();
  const note = uniqueName("Good. What else do they need? ");
  await row.getByRole("textbox", { name: "Feedback" }).fill(note);
  await row.getByRole("button", { name: "Send feedback" }).click();
  await expect(row.getByRole("textbox", { name: "Feedback" })).toHaveCount(0);
  await expect(row.getByRole("img", { name: "Feedback given" })).toBeVisible();

  // Live in the student's tab: the count, and the marker on their message.
  await expect(s.page.getByRole("link", { name: "Feedback (1)", exact: true })).toBeVisible();
  const mine = messages(s.page).filter({ hasText: answer });
  await expect(mine.getByRole("link", { name: "Feedback on this message" })).toBeVisible();

  // Another student sees neither.
  const other = await signUp(browser, uniqueName("olly"));
  await expect(messages(other.page).filter({ hasText: answer })).toBeVisible();
  await expect(other.page.getByRole("link", { name: "Feedback", exact: true })).toBeVisible();
  await expect(messages(other.page).filter({ hasText: answer }).getByRole("img", { name: "Feedback given" })).toHaveCount(0);
  await other.page.goto("/feedback");
  await expect(other.page.getByText(note)).toHaveCount(0);
  await other.context.close();

  // The student reads it: quoted message, room, teacher; the count is gone afterwards.
  await s.page.getByRole("link", { name: "Feedback (1)", exact: true }).click();
  await expect(s.page.getByRole("heading", { name: "Feedback", level: 1 })).toBeVisible();
  const item = s.page.getByRole("article").filter({ hasText: note });
  await expect(item.locator("blockquote")).toHaveText(answer);
  await expect(item).toContainText("lobby");
  await s.page.goBack();
  await expect(s.page.getByRole("link", { name: "Feedback", exact: true })).toBeVisible();
  await s.context.close();
  await t.context.close();
});

test("a grade saved on /review shows on the student's /feedback page", async ({ browser }) => {
  const t = await teacher(browser, uniqueName("teacher"));
  const student = uniqueName("gia");
  const s = await signUp(browser, student);
  const room = uniqueName("Biology ");
  await createRoom(t.page, room);
  await s.page.getByRole("button", { name: "Browse rooms" }).click();
  await s.page.getByRole("list", { name: "Rooms to join" }).getByRole("link", { name: room }).click();
  await s.page.getByRole("button", { name: "Join room" }).click();
  await expect(s.page.getByRole("button", { name: "Leave room" })).toBeVisible();
  await send(s.page, "Mitochondria are the powerhouse of the cell");

  await review(t.page, room);
  const students = t.page.getByRole("table", { name: "Students" });
  const rowOf = students.getByRole("row").filter({ hasText: student });
  await expect(rowOf).toContainText("1");
  await t.page.getByRole("textbox", { name: `Grade for ${student}`, exact: true }).fill("A-");
  await t.page.getByRole("textbox", { name: `Comment for ${student}`, exact: true }).fill("Precise and curious");
  await t.page.getByRole("button", { name: `Save grade for ${student}`, exact: true }).click();
  await expect(t.page.getByRole("status").filter({ hasText: `Grade saved for ${student}.` })).toBeVisible();
  await expect(t.page.getByRole("textbox", { name: `Grade for ${student}`, exact: true })).toHaveValue("A-");
  await t.page.screenshot({ path: "../docs/review.png", fullPage: true });

  await s.page.goto("/feedback");
  const grades = s.page.getByRole("table", { name: "Grades" });
  const graded = grades.getByRole("row").filter({ hasText: room });
  await expect(graded).toContainText("A-");
  await expect(graded).toContainText("Precise and curious");
  await s.context.close();
  await t.context.close();
});

test("the CSV download contains the room's messages", async ({ browser }) => {
  const t = await teacher(browser, uniqueName("teacher"));
  const room = uniqueName("Chinese ");
  await createRoom(t.page, room);
  const lines = ["我们明天有数学作业", 'She said "hi", then left', "=1+1"];
  for (const line of lines) await send(t.page, line);
  await expect(messages(t.page).filter({ hasText: "=1+1" })).toBeVisible();

  await review(t.page, room);
  const transcript = t.page.getByRole("table", { name: "Transcript" });
  for (const line of lines) await expect(transcript).toContainText(line);
  const [download] = await Promise.all([
    t.page.waitForEvent("download"),
    t.page.getByRole("link", { name: "Download CSV" }).click(),
  ]);
  expect(download.suggestedFilename()).toMatch(/^hearth-Chinese.*-\d{4}-\d{2}-\d{2}\.csv$/);
  const csv = await readFile(await download.path(), "utf8");
  expect(csv.startsWith("\uFEFFmessage,version,author,sent_at,written_at,status,text,changed_by,changed_at\r\n")).toBe(
    true,
  );
  expect(csv).toContain(",current,我们明天有数学作业,,");
  expect(csv).toContain(',current,"She said ""hi"", then left",,');
  expect(csv).toContain(",current,\"'=1+1\",,");
  await t.context.close();
});
