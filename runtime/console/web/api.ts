/**
 * The console's calls to its host: JSON over fetch with the session cookie (same origin only);
 * every POST carries the session's CSRF token from the page's meta tag. A 401 means the session
 * ended: the page reloads and the host shows the login form.
 */
import type { Deployment } from "../../deploy/model.ts";
import type { RecentRequest } from "../recent.ts";
import type { functionDetail, liveState, overview } from "../views.ts";

export type Overview = ReturnType<typeof overview>;
export type FunctionDetail = NonNullable<ReturnType<typeof functionDetail>>;
export type LiveState = ReturnType<typeof liveState>;
export type FunctionRow = Overview["functions"][number];
export type { RecentRequest };

export interface VersionInfo {
  id: string;
  createdAt: string;
  tag: string | null;
  message: string | null;
  author: string;
  files: number;
  percent: number;
}

export type Deployments =
  | { enabled: false; why: string }
  | {
      enabled: true;
      active: Deployment;
      versions: VersionInfo[];
      deployments: Deployment[];
      counts: { stable: { requests: number; errors: number }; canary: { requests: number; errors: number } } | null;
    };

export interface SwitchResult {
  deployment: Deployment;
  version: string;
  changed: string[];
  loadMs: number;
  switchMs: number;
}

export const BASE = "/_lanes/ui";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function csrf(): string {
  return document.querySelector<HTMLMetaElement>('meta[name="lanes-csrf"]')?.content ?? "";
}

async function call<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${BASE}/api/${path}`, {
    method,
    credentials: "same-origin",
    headers: method === "POST" ? { "content-type": "application/json", "x-lanes-csrf": csrf() } : {},
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (res.status === 401) {
    location.reload();
    throw new ApiError(401, "unauthorized", "the session ended");
  }
  const json = await res.json().catch(() => ({}));
  if (!res.ok) {
    const e = (json as { error?: { code: string; message: string } }).error;
    throw new ApiError(res.status, e?.code ?? "error", e?.message ?? `${res.status} ${res.statusText}`);
  }
  return json as T;
}

export const get = <T>(path: string) => call<T>("GET", path);
export const post = <T>(path: string, body: unknown) => call<T>("POST", path, body);
