/** Whether process `pid` exists. Signal 0 checks without signalling: ESRCH is gone; EPERM is alive (another user's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === "EPERM";
  }
}
