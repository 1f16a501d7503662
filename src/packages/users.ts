/**
 * Who uses a shared directory (an extracted tree, an installed dependency
 * store): one empty file per using process, named by its owner tag. A shared
 * directory is removed only when none of its users is alive; files of dead
 * users are pruned by whoever looks next. Callers hold the directory's lock.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { currentOwner, isAlive, ownerTag, parseOwnerTag } from './owner';

/** `<pid>-<start>.<user>`: `user` tells apart several package managers of one process. */
function userFile(usersDir: string, user: string): string {
  return path.join(usersDir, `${ownerTag(currentOwner())}.${user}`);
}

export async function addUser(usersDir: string, user: string): Promise<void> {
  await fs.mkdir(usersDir, { recursive: true });
  await fs.writeFile(userFile(usersDir, user), '');
}

export async function removeUser(usersDir: string, user: string): Promise<void> {
  await fs.rm(userFile(usersDir, user), { force: true });
}

/** The number of live users; dead users' files are removed on the way. */
export async function liveUsers(usersDir: string): Promise<number> {
  let names: string[];
  try {
    names = await fs.readdir(usersDir);
  } catch {
    return 0;
  }
  let live = 0;
  for (const name of names) {
    const owner = parseOwnerTag(name.split('.')[0]!);
    if (owner && isAlive(owner)) live++;
    else await fs.rm(path.join(usersDir, name), { force: true });
  }
  return live;
}
