// Shared pieces: htm bound to Preact, number and date formats, the error line, grade badges.
import { h } from 'preact';
import htm from 'htm';
import { t, language } from './i18n.js';

export const html = htm.bind(h);

export function pct(value, digits = 2) {
  if (value === null || value === undefined) return '–';
  return `${(value * 100).toFixed(value < 0.001 && value > 0 ? 3 : digits)}%`;
}
export function pp(value) {
  if (value === null || value === undefined) return '–';
  const points = value * 100;
  return `${points > 0 ? '+' : points < 0 ? '−' : '±'}${Math.abs(points).toFixed(2)} pp`;
}
export function num(value, digits = 4) {
  if (value === null || value === undefined) return '–';
  if (Math.abs(value) >= 1e5) return value.toLocaleString(language() === 'ko' ? 'ko-KR' : 'en-US', { maximumFractionDigits: 0 });
  return Number(value).toFixed(digits).replace(/\.?0+$/, (m) => (m.startsWith('.') ? '' : m));
}
export function daysSince(isoDate) {
  if (!isoDate) return null;
  return Math.floor((Date.now() - Date.parse(`${isoDate}T00:00:00Z`)) / 86400000);
}
export const Grade = ({ grade }) => (grade ? html`<span class=${`grade g-${grade}`}>${grade}</span>` : '–');

export function ErrorLine({ error }) {
  if (!error) return null;
  const text = error.status === 0 ? t('common.network', { detail: error.detail })
    : t('common.error', { status: error.status ?? '', detail: error.detail ?? String(error) });
  return html`<div class="error" role="alert" data-testid="error">${text}</div>`;
}

export const Loading = () => html`<p class="muted">${t('common.loading')}</p>`;
