/**
 * A memory cgroup that caps its processes at a board's memory, for measuring the agent as it runs
 * on such a board: node reads the cap at start (libuv's constrained memory) and sizes V8's heap
 * from it as from a board's RAM. On a 512 MB board V8's heap limit is 259 MB instead of 4 GB, and
 * its young generation grows to 1 MB semi-spaces instead of 16 MB.
 *
 * Needs root and the memory controller: cgroup v2 (/sys/fs/cgroup with `memory` among its
 * controllers) or v1 (/sys/fs/cgroup/memory).
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface MemoryCgroup {
  /** Write a pid here to move that process into the cgroup. */
  procsFile: string;
  remove(): Promise<void>;
}

const V2_ROOT = '/sys/fs/cgroup';
const V1_ROOT = '/sys/fs/cgroup/memory';

export async function createMemoryCgroup(name: string, bytes: number): Promise<MemoryCgroup> {
  const v2 =
    existsSync(path.join(V2_ROOT, 'cgroup.controllers')) &&
    readFileSync(path.join(V2_ROOT, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('memory');
  const root = v2 ? V2_ROOT : V1_ROOT;
  if (!v2 && !existsSync(V1_ROOT)) {
    throw new Error(`no memory cgroup controller (neither ${V2_ROOT} v2 with memory nor ${V1_ROOT})`);
  }
  const dir = path.join(root, name);
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, v2 ? 'memory.max' : 'memory.limit_in_bytes'), String(bytes));
  } catch (err) {
    throw new Error(`cannot make the memory cgroup ${dir} (root needed): ${String(err)}`);
  }
  return {
    procsFile: path.join(dir, 'cgroup.procs'),
    // A cgroup goes once its processes have exited.
    remove: () => rmdir(dir),
  };
}

/**
 * fork() options that start the child inside the cgroup: node is exec'd by a shell that has moved
 * itself in first, so the cap is in place before V8 sizes its heap. The IPC channel survives exec.
 */
export function forkInCgroup(
  cgroup: MemoryCgroup,
  nodeFlags: string[],
): { execPath: string; execArgv: string[] } {
  return {
    execPath: '/bin/sh',
    execArgv: ['-c', `echo $$ > '${cgroup.procsFile}' && exec "$0" "$@"`, process.execPath, ...nodeFlags],
  };
}
