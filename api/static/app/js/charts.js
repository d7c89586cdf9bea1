// uPlot charts: a company's PD over time (filings as points, default events as red vertical lines) and a
// model's calibration by grade (mean PD against observed default rate).
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { html } from './ui.js';

const seconds = (isoDate) => Date.parse(`${isoDate}T00:00:00Z`) / 1000;
// Log-scale ticks fall on 1..9 x each decade: label the decades only.
const decadeLabels = (u, ticks) => ticks.map((v) => (Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-6
  ? `${+(v * 100).toPrecision(2)}%` : ''));

function useUplot(build, deps) {
  const box = useRef(null);
  useEffect(() => {
    if (!box.current) return undefined;
    const width = Math.max(320, box.current.clientWidth || 640);
    const plot = build(box.current, width);
    return () => plot && plot.destroy();
  }, deps); // eslint-disable-line react-hooks/exhaustive-deps
  return box;
}

/** scores: [{as_of, pd}] oldest first; events: [{event_date, kind}] */
export function PdChart({ scores, events, label }) {
  const box = useUplot((element, width) => {
    const points = scores.filter((s) => s.pd !== null && s.pd !== undefined);
    if (points.length === 0) return null;
    const xs = points.map((s) => seconds(s.as_of));
    const ys = points.map((s) => Math.max(s.pd, 1e-5));
    const eventTimes = events.map((e) => seconds(e.event_date));
    const xMin = Math.min(...xs, ...eventTimes) - 86400 * 60;
    const xMax = Math.max(...xs, ...eventTimes) + 86400 * 60;
    const drawEvents = (u) => {
      const { ctx } = u;
      ctx.save();
      ctx.strokeStyle = '#b3261e';
      ctx.lineWidth = 2 * uPlot.pxRatio;
      ctx.setLineDash([6, 4]);
      for (const x of eventTimes) {
        const px = Math.round(u.valToPos(x, 'x', true));
        ctx.beginPath();
        ctx.moveTo(px, u.bbox.top);
        ctx.lineTo(px, u.bbox.top + u.bbox.height);
        ctx.stroke();
      }
      ctx.restore();
    };
    return new uPlot({
      width, height: 320,
      scales: { x: { time: true, range: [xMin, xMax] }, y: { distr: 3, range: (u, lo, hi) => [Math.min(lo, 1e-3), 1] } },
      axes: [{}, { values: decadeLabels, size: 60 }],
      series: [{}, { label, stroke: '#1f5fa8', width: 2, points: { show: true, size: 6, fill: '#1f5fa8' },
        value: (u, v) => (v === null ? '–' : `${(v * 100).toFixed(3)}%`) }],
      hooks: { draw: [drawEvents] },
    }, [xs, ys], element);
  }, [scores, events, label]);
  return html`<div class="chart" id="pd-chart" ref=${box} data-points=${scores.length}></div>`;
}

/** rows: [{grade, mean_pd, observed_rate}] in grade order */
export function CalibrationChart({ rows, labels }) {
  const box = useUplot((element, width) => {
    if (!rows.length) return null;
    const xs = rows.map((_, i) => i + 1);
    const floor = (v) => (v > 0 ? v : null); // a zero observed rate has no place on a log scale
    return new uPlot({
      width: Math.min(width, 560), height: 260,
      scales: { x: { time: false, range: [0.5, rows.length + 0.5] }, y: { distr: 3 } },
      axes: [{ values: (u, ticks) => ticks.map((v) => rows[v - 1]?.grade ?? ''), splits: () => xs },
        { values: decadeLabels, size: 60 }],
      series: [{ label: 'grade', value: (u, v) => rows[v - 1]?.grade ?? '' },
        { label: labels[0], stroke: '#1f5fa8', width: 2, points: { show: true, size: 7 } },
        { label: labels[1], stroke: '#b3261e', width: 0, points: { show: true, size: 8, fill: '#b3261e' } }],
    }, [xs, rows.map((r) => floor(r.mean_pd)), rows.map((r) => floor(r.observed_rate))], element);
  }, [rows, labels]);
  return html`<div class="chart calibration" ref=${box}></div>`;
}

/** points: [{year, pd_psi, largest_psi}] oldest first; dashed lines at the watch (0.10) and shift (0.25) levels */
export function PsiChart({ points, labels, id }) {
  const box = useUplot((element, width) => {
    if (!points.length) return null;
    const xs = points.map((p) => p.year);
    const drawLevels = (u) => {
      const { ctx } = u;
      ctx.save();
      ctx.lineWidth = uPlot.pxRatio;
      ctx.setLineDash([5, 4]);
      for (const [level, colour] of [[0.1, '#b8860b'], [0.25, '#b3261e']]) {
        const py = Math.round(u.valToPos(level, 'y', true));
        ctx.strokeStyle = colour;
        ctx.beginPath();
        ctx.moveTo(u.bbox.left, py);
        ctx.lineTo(u.bbox.left + u.bbox.width, py);
        ctx.stroke();
      }
      ctx.restore();
    };
    return new uPlot({
      width: Math.min(width, 720), height: 220,
      scales: { x: { time: false, range: [xs[0] - 0.5, xs[xs.length - 1] + 0.5] },
        // log scale: the watch and shift levels stay readable beside PSIs of 10 on small samples
        y: { distr: 3, range: (u, lo, hi) => [Math.min(0.01, lo ?? 0.01), Math.max(1, hi ?? 1)] } },
      axes: [{ values: (u, ticks) => ticks.map((v) => (Number.isInteger(v) ? String(v) : '')) },
        { size: 50, values: (u, ticks) => ticks.map((v) => (Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-6 ? String(v) : '')) }],
      series: [{ label: 'year' },
        { label: labels[0], stroke: '#1f5fa8', width: 2, points: { show: true, size: 6, fill: '#1f5fa8' } },
        { label: labels[1], stroke: '#888', width: 1, dash: [3, 3], points: { show: true, size: 5 } }],
      hooks: { draw: [drawLevels] },
    }, [xs, points.map((p) => (p.pd_psi > 0 ? p.pd_psi : null)), points.map((p) => (p.largest_psi > 0 ? p.largest_psi : null))], element);
  }, [points, labels]);
  return html`<div class="chart psi" id=${id} ref=${box} data-points=${points.length}></div>`;
}
