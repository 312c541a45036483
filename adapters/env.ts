/** The host's own environment, read in one place (functions never see it). */
export function hostEnv(name: string): string | undefined {
  return process.env[name];
}
