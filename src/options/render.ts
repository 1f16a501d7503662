/**
 * The option tables as people read them: the lines of `--help` and the
 * README's configuration tables (rewritten by `npm run docs:options`, checked
 * for staleness by test/options/readme.test.ts).
 */
import { flagText, type OptionSpec, type OptionTable } from './spec';
import { SERVE_OPTIONS } from './serve';
import { CACHE_OPTIONS } from './cache';

const HELP_COLUMN = 29;

function defaultWords(o: OptionSpec): string | undefined {
  if (o.defaultText !== undefined) return o.defaultText;
  if (o.kind === 'bool') return o.default ? 'on' : 'off';
  if (o.kind === 'int') return o.unit === 'count' ? String(o.default) : `${o.default} ${o.unit}`;
  return o.default;
}

/** `--help` lines for a table: flag, help, then the environment variable and default in brackets. */
export function helpLines(table: OptionTable): string {
  return table.map((o) => {
    const notes = [o.env && `env ${o.env}`, defaultWords(o) !== undefined && `default ${defaultWords(o)}`].filter(Boolean).join('; ');
    const head = `  ${flagText(o).padEnd(HELP_COLUMN - 3)} ${o.help}`;
    if (!notes) return head;
    return head.length + notes.length + 3 <= 110 ? `${head} [${notes}]` : `${head}\n${' '.repeat(HELP_COLUMN)}[${notes}]`;
  }).join('\n');
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/</g, '&lt;');
}

/** A markdown table for a table of options. */
export function markdownTable(table: OptionTable, withEnv: boolean): string {
  const head = withEnv ? '| flag | environment | default | meaning |\n|---|---|---|---|' : '| flag | default | meaning |\n|---|---|---|';
  const rows = table.map((o) => {
    const cells = [`\`${flagText(o)}\``, ...(withEnv ? [o.env ? `\`${o.env}\`` : ''] : []), cell(defaultWords(o) ?? '—'), cell(o.help + (o.more ?? ''))];
    return `| ${cells.join(' | ')} |`;
  });
  return [head, ...rows].join('\n');
}

export const README_BEGIN = '<!-- options: generated from src/options by `npm run docs:options`; edit the tables there -->';
export const README_END = '<!-- options: end -->';

/** What stands between the README's markers. */
export function readmeOptions(): string {
  return [
    '`flmrun-js serve`:',
    '',
    markdownTable(SERVE_OPTIONS, true),
    '',
    '`flmrun-js cache` (the object cache server alone):',
    '',
    markdownTable(CACHE_OPTIONS, false),
  ].join('\n');
}

/** The README with its generated section replaced; throws when the markers are missing. */
export function withReadmeOptions(readme: string): string {
  const begin = readme.indexOf(README_BEGIN);
  const end = readme.indexOf(README_END);
  if (begin < 0 || end < begin) throw new Error(`README.md lacks the markers ${README_BEGIN} ... ${README_END}`);
  return `${readme.slice(0, begin + README_BEGIN.length)}\n${readmeOptions()}\n${readme.slice(end)}`;
}
