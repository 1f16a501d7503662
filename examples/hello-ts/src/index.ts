import { currentTask } from 'flmrun-js';

export enum Mode {
  Sum = 'sum',
  Product = 'product',
}

/** Keyword arguments from a Python client arrive as this trailing options object. */
export interface CombineOptions {
  mode?: Mode;
  times?: number;
}

/**
 * The default export is the execution object: with no context export, a
 * session instantiates it with the context's init_args. With
 * "stateful": true, `total` persists from task to task.
 */
export default class Counter {
  constructor(public total: number = 0) {}

  increment(by: number = 1): number {
    this.total += by;
    return this.total;
  }

  /** An async method with keyword arguments: combine([1, 2, 3], mode='product', times=2). */
  async combine(values: number[], { mode = Mode.Sum, times = 1 }: CombineOptions = {}): Promise<number> {
    currentTask()?.logger.info({ values, mode }, 'combining');
    await Promise.resolve();
    const result = values.reduce((acc, v) => (mode === Mode.Sum ? acc + v : acc * v), mode === Mode.Sum ? 0 : 1) * times;
    this.total += result;
    return result;
  }

  /** A Date reaches Python as a UTC-aware datetime. */
  stamp(): { total: number; at: Date } {
    return { total: this.total, at: new Date() };
  }
}

/** Named exports are methods too, beside the default export's. */
export function greet(name: string, { excited = false }: { excited?: boolean } = {}): string {
  return `Hello, ${name}${excited ? '!' : '.'}`;
}
