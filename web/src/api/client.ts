/**
 * @module
 * The typed API client: openapi-fetch over the types generated from the Worker's own OpenAPI
 * document. Every state-changing request carries the session's CSRF token, and every failure becomes
 * an ApiError holding the API's own human message.
 */
import createClient, { type Middleware } from "openapi-fetch";
import type { paths } from "./openapi.gen.ts";

export type Paths = paths;

let csrfToken: string | null = null;
export const setCsrfToken = (token: string | null) => {
  csrfToken = token;
};

const csrf: Middleware = {
  onRequest({ request }) {
    if (csrfToken && request.method !== "GET" && request.method !== "HEAD") request.headers.set("X-CSRF-Token", csrfToken);
    return request;
  },
};

export const api = createClient<Paths>({ baseUrl: "/api" });
api.use(csrf);

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type Result<T> = { data?: T; error?: unknown; response: Response };

/** The data of a successful call, or an ApiError with the message the API wrote for people. */
export async function ok<T>(call: Promise<Result<T>>): Promise<T> {
  let result: Result<T>;
  try {
    result = await call;
  } catch {
    throw new ApiError(0, "network", "WeChatting cannot be reached. Check your connection; we will retry when you try again.");
  }
  if (result.response.ok) return result.data as T;
  const body = result.error as { error?: { code?: string; message?: string } } | undefined;
  throw new ApiError(
    result.response.status,
    body?.error?.code ?? "http_error",
    body?.error?.message ?? `The server answered ${result.response.status}. Try again in a moment.`,
  );
}
