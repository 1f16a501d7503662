/** A real object cache and SessionSupervisors over the runner-app fixture, for the runner's end-to-end tests. */
import path from 'node:path';
import { BSON } from 'bson';
import { CacheServer } from '../../src/cache/server/cache-server';
import { CacheClient } from '../../src/cache/client';
import type { ObjectRef } from '../../src/wire/cache-types';
import { decodeObjectRef } from '../../src/wire/object-ref';
import { encodeRunnerRequest } from '../../src/codecs/request';
import { decodeValue, encodeValue } from '../../src/codecs/values';
import { liveSessionChildren, SessionSupervisor, type RunnerOptions, type TaskOutcome } from '../../src/runner/supervisor';

export const APP_ROOT = path.resolve(__dirname, '../fixtures/runner-app');
export const APP = 'runner-test';

export interface ContextFields {
  module?: string;
  export?: string;
  init_args?: unknown[];
  stateful?: boolean;
}

export class Harness {
  server = new CacheServer();
  endpoint = '';
  cache!: CacheClient;
  private workers: SessionSupervisor[] = [];
  private sessions = 0;

  async start(): Promise<this> {
    this.endpoint = await this.server.start();
    this.cache = new CacheClient({ endpoint: this.endpoint });
    return this;
  }

  /** Enters a session whose common data is the context as a BSON document (or none). */
  enter(context?: ContextFields, opts: Partial<RunnerOptions> = {}, sessionId = `s${++this.sessions}`): Promise<SessionSupervisor> {
    const commonData = context ? Buffer.from(BSON.serialize(context)) : undefined;
    return this.enterWith(commonData, opts, sessionId);
  }

  async enterWith(commonData: Uint8Array | undefined, opts: Partial<RunnerOptions> = {}, sessionId = `s${++this.sessions}`): Promise<SessionSupervisor> {
    const w = await SessionSupervisor.start(
      { sessionId, appName: APP, workDir: APP_ROOT, commonData },
      { cacheEndpoint: this.endpoint, ...opts },
    );
    this.workers.push(w);
    return w;
  }

  /** Puts a context into the cache (the Python runner's form: common data = its ObjectRef). */
  async putContext(context: ContextFields, sessionId = 'ctx'): Promise<ObjectRef> {
    return this.cache.put(`${APP}/${sessionId}`, { kind: 'opaque', chunks: [Buffer.from(BSON.serialize(context))] });
  }

  async putValue(value: unknown): Promise<ObjectRef> {
    return this.cache.put(`${APP}/inputs`, encodeValue(value));
  }

  request(method: string | null, args: unknown[] = [], kwargs: Record<string, unknown> | null = null): Buffer {
    return encodeRunnerRequest({ method, args, kwargs });
  }

  /** The value a successful outcome's ObjectRef points at. */
  async valueOf(outcome: TaskOutcome): Promise<unknown> {
    if (outcome.returnCode !== 0) throw new Error(`task failed with code ${outcome.returnCode}: ${outcome.message}`);
    return decodeValue(await this.cache.get(decodeObjectRef(outcome.output!)));
  }

  async run(w: SessionSupervisor, method: string | null, args: unknown[] = [], kwargs: Record<string, unknown> | null = null): Promise<unknown> {
    return this.valueOf(await w.invoke(`t${Math.random().toString(36).slice(2, 8)}`, this.request(method, args, kwargs)));
  }

  async closeWorkers(): Promise<void> {
    await Promise.all(this.workers.splice(0).map((w) => w.close('test end')));
  }

  async stop(): Promise<void> {
    await this.closeWorkers();
    await this.cache?.close();
    await this.server.close();
  }
}

/**
 * One Harness for a test file: started before its tests, its workers closed
 * after each, stopped at the end with no session process left alive.
 */
export function useHarness(): () => Harness {
  let h: Harness | undefined;
  beforeAll(async () => {
    h = await new Harness().start();
  });
  afterEach(() => h!.closeWorkers());
  afterAll(async () => {
    await h!.stop();
    expect(liveSessionChildren()).toBe(0);
  });
  return () => h!;
}
