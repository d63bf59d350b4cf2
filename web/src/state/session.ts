/**
 * @module
 * Who is signed in: the `Me` answer of the API (user, workspaces, CSRF token, policy state).
 */
import { signal } from "@preact/signals";
import { api, ApiError, ok, setCsrfToken } from "../api/client.ts";
import type { components } from "../api/openapi.gen.ts";

export type Me = components["schemas"]["Me"];
export type Role = Me["workspaces"][number]["role"];

/** undefined while the first check runs, null when signed out. */
export const me = signal<Me | null | undefined>(undefined);

export function signedIn(value: Me) {
  setCsrfToken(value.csrfToken);
  me.value = value;
}

export async function loadSession(): Promise<void> {
  try {
    signedIn(await ok(api.GET("/auth/session")));
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      setCsrfToken(null);
      me.value = null;
    } else throw error;
  }
}

export async function signOut(): Promise<void> {
  await ok(api.POST("/auth/signout"));
  setCsrfToken(null);
  me.value = null;
}

export const roleIn = (workspaceId: string): Role | null => me.value?.workspaces.find((w) => w.id === workspaceId)?.role ?? null;
export const canManage = (workspaceId: string) => roleIn(workspaceId) !== "agent" && roleIn(workspaceId) !== null;
