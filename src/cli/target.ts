/**
 * The instance a command talks to. Kept apart from the driver so that
 * `flmrun-js health` (the container's HEALTHCHECK, run every few seconds)
 * loads no cache client or codecs.
 */
import { invalidInput } from '../errors';
import { stripUnixScheme } from '../config';

/** --target HOST:PORT, else --socket PATH, else FLAME_INSTANCE_ENDPOINT. */
export function instanceTarget(
  flags: { socket?: string; target?: string },
  env: NodeJS.ProcessEnv,
  command: string,
): string {
  if (flags.target) return flags.target;
  const socket = flags.socket ?? (env.FLAME_INSTANCE_ENDPOINT ? stripUnixScheme(env.FLAME_INSTANCE_ENDPOINT) : undefined);
  if (!socket) throw invalidInput(`${command} needs --socket PATH or --target HOST:PORT (or FLAME_INSTANCE_ENDPOINT)`);
  return `unix://${socket}`;
}
