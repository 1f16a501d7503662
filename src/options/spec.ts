/**
 * What one option is: the shape of the entries of the tables in serve.ts and
 * cache.ts, and the types derived from a table, so that an option's name,
 * type, default, unit, validation, environment variable and help are written
 * once, in its entry.
 */
import type { LogLevel, Unit } from './values';

interface Common {
  /** The key in the options object (unit in the name: `taskTimeoutMs`). */
  readonly key: string;
  /** The command-line flag, without its dashes. */
  readonly flag: string;
  /** The placeholder shown after the flag (`PATH`, `N`); none for switches. */
  readonly arg?: string;
  /** The environment variable that sets it; flags win over it. */
  readonly env?: string;
  /** One line: `--help` shows it, the README's table starts its meaning with it. */
  readonly help: string;
  /** What the README adds after `help`. */
  readonly more?: string;
  /** The default in words, when the value alone does not say it ("embedded", "memory only"). */
  readonly defaultText?: string;
}

export interface IntOption extends Common {
  readonly kind: 'int';
  readonly unit: Unit;
  readonly min: number;
  /** The largest value taken (a timer's, 2^31-1 ms: Node runs longer ones after 1 ms); none if unset. */
  readonly max?: number;
  /** 0 is also taken, meaning off, below a `min` above 1. */
  readonly zeroOff?: boolean;
  readonly default: number;
}

export interface BoolOption extends Common {
  readonly kind: 'bool';
  readonly default: boolean;
}

export interface LevelOption extends Common {
  readonly kind: 'level';
  readonly default: LogLevel;
  /**
   * How the environment variable's text is read. Lenient on purpose: Flame sets it
   * for all its processes, so a value meant for another one must not stop this one.
   */
  readonly fromEnv: (text: string) => LogLevel | undefined;
}

export interface TextOption extends Common {
  readonly kind: 'text';
  readonly default?: string;
  /** Validates and normalizes the value (e.g. strips `unix://`); throws an FlmError naming the flag. */
  readonly check?: (value: string, what: string) => string;
}

export type OptionSpec = IntOption | BoolOption | LevelOption | TextOption;
export type OptionTable = readonly OptionSpec[];

type ValueOf<S> = S extends { kind: 'int' } ? number : S extends { kind: 'bool' } ? boolean : S extends { kind: 'level' } ? LogLevel : string;
type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** The options object a table describes: an option with a default is always set, the others may be absent. */
export type OptionsOf<T extends OptionTable> = Simplify<
  { -readonly [S in T[number] as S extends { default: unknown } ? S['key'] : never]: ValueOf<S> } &
  { -readonly [S in T[number] as S extends { default: unknown } ? never : S['key']]?: ValueOf<S> }
>;

/** The defaults of a table, by key. */
export type DefaultsOf<T extends OptionTable> = {
  readonly [S in T[number] as S extends { default: unknown } ? S['key'] : never]: ValueOf<S>;
};

/** `--flag ARG` as help and README show it. */
export function flagText(o: OptionSpec): string {
  return `--${o.flag}${o.arg ? ` ${o.arg}` : ''}`;
}
