/** Base64 with web-standard atob/btoa (Node 20 has no Uint8Array.fromBase64). Strict: no whitespace, no URL alphabet. */
// a multiple of 3: each chunk encodes without padding, so the chunks concatenate
const CHUNK = 3 * 8192;

function isStrictBase64(text: string): boolean {
  const n = text.length;
  if (n % 4 !== 0) return false;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    const alpha = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47;
    if (alpha) continue;
    // "=" only as padding: the last character, or the last two
    if (c === 61 && (i === n - 1 || (i === n - 2 && text.charCodeAt(n - 1) === 61))) continue;
    return false;
  }
  return true;
}

/** The bytes, or undefined when `text` is not strict base64. */
export function decodeBase64(text: string): Uint8Array | undefined {
  if (!isStrictBase64(text)) return undefined;
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function encodeBase64(bytes: Uint8Array): string {
  const parts: string[] = [];
  for (let i = 0; i < bytes.length; i += CHUNK) {
    parts.push(btoa(String.fromCharCode(...bytes.subarray(i, i + CHUNK))));
  }
  return parts.join("");
}
