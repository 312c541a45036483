/**
 * The console's own files (runtime/console/assets/), read once when the console starts: the
 * stylesheet and the icon, which the login form needs, and the script, which is served only to
 * a session. The script is a prebuilt bundle (npm run console builds it from
 * runtime/console/web/ with the ECharts modules it uses), so serving it needs neither the
 * network nor a build tool. URLs carry a hash of the content: a browser may keep them, and a
 * new build gets new URLs.
 */
import type { Sys } from "../../adapters/types.ts";
import { BASE, type AssetUrls } from "./pages.ts";

export interface Asset {
  name: string;
  type: string;
  bytes: Uint8Array<ArrayBuffer>;
  hash: string;
  /** Served without a session (the login form uses it). */
  public: boolean;
}

const FILES: Omit<Asset, "bytes" | "hash">[] = [
  { name: "console.css", type: "text/css; charset=utf-8", public: true },
  { name: "favicon.svg", type: "image/svg+xml", public: true },
  { name: "console.js", type: "text/javascript; charset=utf-8", public: false },
];

/** The folder of the assets, as a path (no node:url in the core). */
export function assetsDir(): string {
  return decodeURIComponent(new URL("./assets/", import.meta.url).pathname);
}

export async function loadAssets(sys: Sys): Promise<{ byName: Map<string, Asset>; urls: AssetUrls }> {
  const byName = new Map<string, Asset>();
  for (const f of FILES) {
    const bytes = new Uint8Array(await sys.readBytes(sys.join(assetsDir(), f.name)));
    byName.set(f.name, { ...f, bytes, hash: sys.sha256(new TextDecoder().decode(bytes)).slice(0, 16) });
  }
  const url = (name: string) => `${BASE}/assets/${name}?v=${byName.get(name)!.hash}`;
  return { byName, urls: { css: url("console.css"), js: url("console.js"), icon: url("favicon.svg") } };
}
