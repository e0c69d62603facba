// The platform's HTTP API, typed from its own OpenAPI schema (src/api/schema.d.ts is generated from
// `sportsbook openapi` by `npm run gen`, so a contract change breaks the build, not a player's screen).
import createClient, { type Middleware } from "openapi-fetch";
import { describe } from "./messages";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];

const TOKEN_KEY = "sportsbook.token";

export function savedToken(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function saveToken(token: string | null): void {
  try {
    if (token === null) localStorage.removeItem(TOKEN_KEY);
    else localStorage.setItem(TOKEN_KEY, token);
  } catch {
    // private mode: the session lasts as long as the page
  }
  memoryToken = token;
}

let memoryToken: string | null = savedToken();

const auth: Middleware = {
  onRequest({ request }) {
    if (memoryToken !== null && !request.headers.has("Authorization")) {
      request.headers.set("Authorization", `Bearer ${memoryToken}`);
    }
    return request;
  },
};

export const api = createClient<paths>({ baseUrl: window.location.origin });
api.use(auth);

/** A refusal from the API: its stable code (../shared/API.md) and HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type Answer<T> = { data?: T; error?: unknown; response: Response };

/** The data of an answer, or an ApiError carrying the API's code. */
export async function ok<T>(answer: Promise<Answer<T>>): Promise<T> {
  let result: Answer<T>;
  try {
    result = await answer;
  } catch {
    throw new ApiError(0, "network_error", "the platform cannot be reached");
  }
  const { data, error, response } = result;
  if (response.ok) return data as T;
  const body = (error ?? {}) as { error?: { code?: string; message?: string } };
  throw new ApiError(
    response.status,
    body.error?.code ?? `http_${response.status}`,
    body.error?.message ?? response.statusText,
  );
}

/** A fresh Idempotency-Key for one action of the user's (kept for a retry of the same action). */
export function newKey(): string {
  return crypto.randomUUID();
}

/** What went wrong, in the player's words: an API refusal by its code, anything else (no answer) as a
 * network failure. */
export function errorText(e: unknown): string {
  return e instanceof ApiError ? describe(e.code, e.message) : describe("network_error");
}
