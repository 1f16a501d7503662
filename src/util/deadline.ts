/**
 * "Wait for the orderly end, but not forever": the one shape behind every
 * close with a grace period (a gRPC server's tryShutdown then forceShutdown,
 * a session's grace before it is disposed, a worker's leave before it is
 * terminated). The timer never holds the process open.
 */

/** Resolves true when `done` settles within `ms`, false when the time ran out first. A rejection counts as settled. */
export async function settlesWithin(done: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeUp = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([done.then(() => true, () => true), timeUp]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Waits up to `graceMs` for `graceful` to settle, then calls `force` and waits for
 * `graceful` again (forcing is what makes it settle). Answers whether it was forced.
 */
export async function gracefully(graceful: Promise<unknown>, graceMs: number, force: () => unknown): Promise<boolean> {
  if (await settlesWithin(graceful, graceMs)) return false;
  await force();
  await graceful.catch(() => undefined);
  return true;
}
