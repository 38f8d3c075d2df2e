import { request, type APIRequestContext, type FullConfig } from "@playwright/test";
import { ADMIN, PASSWORD } from "./tests/helpers";

/**
 * Signs up the administrator before any test: the first account of the fresh database is the
 * administrator, and the tests that need one sign in as it (`signInAdmin`).
 */
export default async function globalSetup(config: FullConfig) {
  const baseURL =
    config.projects[0]?.use.baseURL ?? `http://127.0.0.1:${Number(process.env.HEARTH_E2E_PORT ?? 3100)}`;
  const api = await request.newContext({ baseURL });
  try {
    await waitUntilUp(api);
    // The sign-in forms are accepted only from the server's own origin.
    const response = await api.post("/auth/register", {
      form: { username: ADMIN, password: PASSWORD },
      headers: { Origin: new URL(baseURL).origin },
      maxRedirects: 0,
    });
    const location = response.headers()["location"] ?? "";
    if (response.status() >= 400 || location.includes("error=")) {
      throw new Error(`could not sign up "${ADMIN}": ${response.status()} ${location}`);
    }
  } finally {
    await api.dispose();
  }
}

/** The web server is normally up before global setup runs; wait a little in case it is not. */
async function waitUntilUp(api: APIRequestContext) {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await api.get("/login")).ok()) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("server did not start");
}
