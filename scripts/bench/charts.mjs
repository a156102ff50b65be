// Hand-written SVG bar charts for docs/benchmarks.md: no dependencies, readable on GitHub's light
// and dark themes (own white background).

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v) => (v >= 100 ? Math.round(v).toLocaleString('en-US') : String(Number(v.toPrecision(3))));

/**
 * Horizontal bars, one group per row. `groups`: `[{ label, bars: [{ value, series }] }]`;
 * `series`: `[{ name, color }]` (the legend); `unit` follows each value; `note` goes under the
 * title; `legend` (default: more than one series) draws the series' names. Missing values (null)
 * are drawn as "not measured".
 */
export function barChart({ title, note, unit = '', groups, series, legend: showLegend = series.length > 1 }) {
  const width = 760;
  const labelW = 250;
  const barH = 18;
  const gap = 4;
  const groupGap = 14;
  const top = note ? 62 : 44;
  const legendH = showLegend ? 24 : 0;
  const max = Math.max(1e-9, ...groups.flatMap((g) => g.bars.map((b) => b.value ?? 0)));
  const plotW = width - labelW - 120;
  let y = top + legendH;
  const rows = [];
  for (const g of groups) {
    const h = g.bars.length * (barH + gap) - gap;
    rows.push(`<text x="${labelW - 10}" y="${y + h / 2 + 5}" text-anchor="end" class="l">${esc(g.label)}</text>`);
    g.bars.forEach((b, i) => {
      const s = series[b.series ?? i] ?? series[0];
      const by = y + i * (barH + gap);
      if (b.value === null || b.value === undefined) {
        rows.push(`<text x="${labelW + 4}" y="${by + barH - 5}" class="v">not measured</text>`);
        return;
      }
      const w = Math.max(1, (b.value / max) * plotW);
      rows.push(`<rect x="${labelW}" y="${by}" width="${w.toFixed(1)}" height="${barH}" fill="${s.color}" rx="2"/>`);
      rows.push(`<text x="${labelW + w + 6}" y="${by + barH - 5}" class="v">${esc(fmt(b.value))}${unit ? ' ' + esc(unit) : ''}</text>`);
    });
    y += h + groupGap;
  }
  const height = y + 6;
  const legend =
    showLegend
      ? series
          .map((s, i) => `<rect x="${labelW + i * 150}" y="${top}" width="12" height="12" fill="${s.color}"/><text x="${labelW + i * 150 + 18}" y="${top + 11}" class="v">${esc(s.name)}</text>`)
          .join('')
      : '';
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif">
<style>.t{font-size:16px;font-weight:600;fill:#111}.n{font-size:12px;fill:#555}.l{font-size:13px;fill:#222}.v{font-size:12px;fill:#333}</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="12" y="26" class="t">${esc(title)}</text>
${note ? `<text x="12" y="46" class="n">${esc(note)}</text>` : ''}
${legend}
${rows.join('\n')}
</svg>
`;
}

/** Colours: Parley's bars stand out, the peers are grey and blue. */
export const COLORS = { parley: '#1f7a4d', parleyAlt: '#5cb88a', socketio: '#3b6fb6', bare: '#9aa0a6' };
