/**
 * A small horizontal bar chart as SVG, written by hand: a few panels of
 * labelled bars is all the report needs, and no plotting dependency is
 * worth adding for that.
 */

export interface Bar {
  label: string;
  value: number;
  /** Who the bar belongs to; picks the colour. */
  series: 'flmrun-js' | 'python' | 'floor';
  note?: string;
}

export interface Panel {
  title: string;
  unit: string;
  bars: Bar[];
}

const COLORS: Record<Bar['series'], string> = { 'flmrun-js': '#2b6cb0', python: '#d69e2e', floor: '#8a94a6' };
const WIDTH = 760;
const LABEL_W = 190;
const BAR_H = 16;
const GAP = 5;
const PANEL_PAD = 38;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fmt(v: number): string {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

export function barChart(title: string, panels: Panel[]): string {
  const parts: string[] = [];
  let y = 50;
  parts.push(`<text x="10" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`);
  const legend = (['flmrun-js', 'python', 'floor'] as const).map((s, i) => {
    const x = 10 + i * 170;
    const name = s === 'python' ? 'Python runner / pyarrow' : s === 'floor' ? 'floor / reference / grpc-js' : s;
    return `<rect x="${x}" y="30" width="12" height="12" fill="${COLORS[s]}"/><text x="${x + 16}" y="41" font-size="11">${name}</text>`;
  });
  parts.push(...legend);
  for (const panel of panels) {
    const max = Math.max(...panel.bars.map((b) => b.value), 1e-9);
    const scale = (WIDTH - LABEL_W - 110) / max;
    parts.push(`<text x="10" y="${y + 16}" font-size="13" font-weight="bold">${esc(panel.title)} <tspan font-weight="normal" fill="#555">(${esc(panel.unit)})</tspan></text>`);
    y += 24;
    for (const b of panel.bars) {
      const w = Number.isFinite(b.value) ? Math.max(1, b.value * scale) : 0;
      parts.push(
        `<text x="${LABEL_W - 6}" y="${y + BAR_H - 4}" font-size="11" text-anchor="end">${esc(b.label)}</text>`,
        `<rect x="${LABEL_W}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${COLORS[b.series]}"/>`,
        `<text x="${(LABEL_W + w + 5).toFixed(1)}" y="${y + BAR_H - 4}" font-size="11">${fmt(b.value)}${b.note ? ` ${esc(b.note)}` : ''}</text>`,
      );
      y += BAR_H + GAP;
    }
    y += PANEL_PAD - 24;
  }
  const height = y + 10;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
