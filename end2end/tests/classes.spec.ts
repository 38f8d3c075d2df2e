import { test, expect } from "@playwright/test";
import {
  createRoom,
  member,
  messages,
  send,
  setRole,
  signIn,
  signInAdmin,
  signUp,
  uniqueName,
} from "./helpers";

// Classes: the administrator names teachers on /admin; teachers (and whoever created a room)
// manage rooms: private rooms, adding people, muting, deleting messages.

test("a teacher makes a private room, adds two students, and a third cannot find it", async ({ browser }) => {
  const teacher = uniqueName("teacher");
  const ann = uniqueName("ann");
  const ben = uniqueName("ben");
  const cat = uniqueName("cat");
  const room = uniqueName("Algebra ");
  const openRoom = uniqueName("Notes ");

  const t = await signUp(browser, teacher);
  // Cat has an account but is not in the class.
  await (await signUp(browser, cat)).context.close();

  // The administrator opens the accounts page from the header and makes the teacher a Teacher.
  const admin = await signInAdmin(browser);
  await admin.page.getByRole("link", { name: "Admin", exact: true }).click();
  await expect(admin.page).toHaveURL(/\/admin$/);
  await setRole(admin.page, teacher, "Teacher");
  await admin.context.close();

  const a = await signUp(browser, ann);
  const b = await signUp(browser, ben);

  // A public room for comparison, then the private one.
  await createRoom(t.page, openRoom);
  await t.page.getByRole("button", { name: "New room" }).click();
  await expect(t.page.getByRole("group", { name: "Visibility" }).getByRole("radio", { name: "Public" })).toBeChecked();
  await t.page.getByRole("button", { name: "New room" }).click();
  const roomId = await createRoom(t.page, room, "Private");
  await expect(t.page.getByRole("navigation", { name: "Rooms" }).getByRole("link", { name: room })).toContainText(
    "private",
  );

  await t.page.getByRole("button", { name: "Add people" }).click();
  const username = t.page.getByRole("textbox", { name: "Username" });
  for (const student of [ann, ben]) {
    await username.fill(student);
    await t.page.getByRole("button", { name: "Add", exact: true }).click();
    await expect(member(t.page, student)).toBeVisible();
    await expect(messages(t.page).filter({ hasText: `${student} was added by ${teacher}` })).toBeVisible();
  }

  // Each student sees the room appear live, and can read it.
  for (const s of [a, b]) {
    await expect(s.page.getByRole("navigation", { name: "Rooms" }).getByRole("link", { name: room })).toBeVisible();
  }
  const welcome = uniqueName("Welcome to algebra ");
  await send(t.page, welcome);
  await a.page.getByRole("navigation", { name: "Rooms" }).getByRole("link", { name: room }).click();
  await expect(messages(a.page).filter({ hasText: welcome })).toBeVisible();
  await a.context.close();
  await b.context.close();

  // Cat finds the public room but not the private one, and its address leads back to the lobby.
  const c = await signIn(browser, cat);
  await c.page.getByRole("button", { name: "Browse rooms" }).click();
  const toJoin = c.page.getByRole("list", { name: "Rooms to join" });
  await expect(toJoin.getByRole("link", { name: openRoom })).toBeVisible();
  await expect(toJoin.getByRole("link", { name: room })).toHaveCount(0);
  await c.page.goto(`/rooms/${roomId}`);
  await expect(c.page).toHaveURL(/\/rooms\/1$/);
  await expect(c.page.getByText(welcome)).toHaveCount(0);
  await expect(c.page.getByRole("navigation", { name: "Rooms" }).getByRole("link", { name: room })).toHaveCount(0);

  await t.context.close();
  await c.context.close();
});

test("a student edits and deletes a message and the others see it", async ({ browser }) => {
  const ann = uniqueName("ann");
  const ben = uniqueName("ben");
  const original = uniqueName("The answer is 41, ");
  const fixed = uniqueName("The answer is 42, ");
  const a = await signUp(browser, ann);
  const b = await signUp(browser, ben);

  await send(a.page, original);
  const seen = messages(b.page).filter({ hasText: original });
  await expect(seen).toBeVisible();
  // Ben may neither edit nor delete Ann's message in the lobby.
  await seen.hover();
  await expect(seen.getByRole("button", { name: "Edit message" })).toHaveCount(0);
  await expect(seen.getByRole("button", { name: "Delete message" })).toHaveCount(0);

  // Ann edits hers: the editor starts with the text.
  const mine = messages(a.page).filter({ hasText: original });
  await mine.hover();
  await mine.getByRole("button", { name: "Edit message" }).click();
  const editor = a.page.getByRole("textbox", { name: "Edit message" });
  await expect(editor).toHaveValue(original);
  await editor.fill(fixed);
  await a.page.getByRole("button", { name: "Save", exact: true }).click();
  await expect(editor).toHaveCount(0);

  const changed = messages(b.page).filter({ hasText: fixed });
  await expect(changed).toContainText("(edited)");
  await expect(messages(b.page).filter({ hasText: original })).toHaveCount(0);
  const edited = messages(a.page).filter({ hasText: fixed });
  await expect(edited).toContainText("(edited)");

  // Escape leaves the editor without a change.
  await edited.hover();
  await edited.getByRole("button", { name: "Edit message" }).click();
  await a.page.getByRole("textbox", { name: "Edit message" }).press("Escape");
  await expect(a.page.getByRole("textbox", { name: "Edit message" })).toHaveCount(0);
  await expect(edited).toContainText(fixed);

  // Ann deletes it: Ben sees that a message was deleted, not what it said.
  await edited.hover();
  await edited.getByRole("button", { name: "Delete message" }).click();
  await expect(messages(b.page).filter({ hasText: fixed })).toHaveCount(0);
  const gone = messages(b.page).filter({ hasText: ann }).filter({ hasText: "Message deleted" });
  await expect(gone).toHaveCount(1);
  await expect(gone.locator(".deleted")).toHaveText("Message deleted");
  await expect(gone.getByRole("button")).toHaveCount(0);
  await expect(messages(a.page).filter({ hasText: fixed })).toHaveCount(0);

  await a.context.close();
  await b.context.close();
});

test("the teacher mutes a student, who sees the notice and cannot post", async ({ browser }) => {
  const teacher = uniqueName("teacher");
  const student = uniqueName("student");
  const t = await signUp(browser, teacher);
  const admin = await signInAdmin(browser);
  await setRole(admin.page, teacher, "Teacher");
  await admin.context.close();
  const s = await signUp(browser, student);

  // In the lobby, everyone's room, only staff moderate: the teacher mutes the student there.
  const row = member(t.page, student);
  await expect(row).toContainText("online");
  await row.getByRole("button", { name: `Mute ${student}`, exact: true }).click();
  await row.getByRole("button", { name: "10 minutes" }).click();

  await expect(s.page.getByText(/You are muted in this room until \d\d:\d\d/)).toBeVisible();
  const attempt = uniqueName("Can I still talk? ");
  await send(s.page, attempt);
  // The refused message stays on the student's screen, not sent, saying why.
  const refused = messages(s.page).filter({ hasText: attempt });
  await expect(refused).toContainText("Not sent");
  await expect(refused.getByRole("alert")).toContainText("You are muted in this room until");

  // Everyone sees that the student is muted; the teacher can unmute them.
  await expect(row).toContainText("muted");
  await expect(member(s.page, student)).toContainText("muted");
  const unmute = row.getByRole("button", { name: `Unmute ${student}`, exact: true });
  await expect(unmute).toBeVisible();
  await expect(row.getByRole("button", { name: `Mute ${student}`, exact: true })).toHaveCount(0);
  await expect(messages(t.page).filter({ hasText: attempt })).toHaveCount(0);

  await unmute.click();
  await expect(row.getByRole("button", { name: `Mute ${student}`, exact: true })).toBeVisible();
  // The student discards the refused copy (which keeps its reason), and the composer's notice
  // has gone too; they write it again.
  await refused.getByRole("button", { name: "Discard" }).click();
  await expect(refused).toHaveCount(0);
  await expect(s.page.getByText("You are muted in this room")).toHaveCount(0);
  await send(s.page, attempt);
  await expect(messages(t.page).filter({ hasText: attempt })).toBeVisible();
  await expect(messages(s.page).filter({ hasText: attempt })).toHaveCount(1);

  await t.context.close();
  await s.context.close();
});

test("the administrator makes someone a teacher on /admin and their open page gains the teacher's buttons", async ({
  browser,
}) => {
  const owner = uniqueName("olga");
  const max = uniqueName("max");
  const room = uniqueName("Chemistry ");
  const text = uniqueName("Lab at nine, ");

  const o = await signUp(browser, owner);
  const roomId = await createRoom(o.page, room);
  await send(o.page, text);
  await o.context.close();

  // Max, a member, joins Olga's public room: nothing of it is his to manage.
  const m = await signUp(browser, max);
  await m.page.goto(`/rooms/${roomId}`);
  await m.page.getByRole("button", { name: "Join room" }).click();
  await expect(m.page.getByRole("button", { name: "Leave room" })).toBeVisible();
  const theirs = messages(m.page).filter({ hasText: text });
  await expect(theirs).toBeVisible();
  await theirs.hover();
  await expect(theirs.getByRole("button", { name: "Delete message" })).toHaveCount(0);
  await expect(m.page.getByRole("button", { name: "Rename room" })).toHaveCount(0);
  await expect(m.page.getByRole("link", { name: "Admin", exact: true })).toHaveCount(0);

  const admin = await signInAdmin(browser);
  await setRole(admin.page, max, "Teacher");
  await admin.context.close();

  // Without a reload, Max's page offers a teacher's buttons (and still no accounts page).
  await expect(m.page.getByRole("button", { name: "Rename room" })).toBeVisible();
  await theirs.hover();
  await expect(theirs.getByRole("button", { name: "Delete message" })).toBeVisible();
  await expect(member(m.page, owner).getByRole("button", { name: `Mute ${owner}`, exact: true })).toBeAttached();
  await expect(m.page.getByRole("link", { name: "Admin", exact: true })).toHaveCount(0);

  await m.context.close();
});
