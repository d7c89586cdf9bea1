// Portfolio: every scored company's current PD, grade, agency band, change since its previous filing, segment and
// statement freshness; filters by grade, sector and country; search through GET /v1/companies?q= (name, ticker,
// CIK with any padding, DART code); CSV export built in the browser.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { get, getAll } from './api.js';
import { t } from './i18n.js';
import { html, pct, pp, daysSince, Grade, ErrorLine, Loading } from './ui.js';

const GRADE_ORDER = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', 'D'];

function csvCell(value) {
  const text = value === null || value === undefined ? '' : String(value);
  return /[",\n\r]/.test(text) || /^[=+\-@]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(rows) {
  const header = ['company_id', 'name', 'ticker', 'pd', 'grade', 'agency_band', 'pd_change_since_last_filing',
    'previous_filed_at', 'segment', 'filed_at', 'age_days', 'sector', 'country', 'status'];
  const lines = rows.map((r) => [r.company_id, r.name, r.ticker, r.pd, r.grade, r.agency_band, r.change?.pd_change,
    r.change?.previous_filed_at, r.segment, r.filed_at, daysSince(r.filed_at), r.sector, r.country, r.status]
    .map(csvCell).join(','));
  return [header.join(','), ...lines].join('\r\n') + '\r\n';
}

function download(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function Portfolio() {
  const [rows, setRows] = useState(null);
  const [error, setError] = useState(null);
  const [grade, setGrade] = useState('');
  const [sector, setSector] = useState('');
  const [country, setCountry] = useState('');
  const [query, setQuery] = useState('');
  const [matches, setMatches] = useState(null); // company ids the search found; null = no search
  const [searchError, setSearchError] = useState(null);

  useEffect(() => {
    Promise.all([getAll('/v1/scores', { sort: '-pd' }), get('/v1/app/pd-changes')])
      .then(([scores, changes]) => {
        const byId = Object.fromEntries(changes.items.map((c) => [c.company_id, c]));
        setRows(scores.map((s) => ({ ...s, change: byId[s.company_id] })));
      })
      .catch(setError);
  }, []);

  useEffect(() => {
    const q = query.trim();
    if (!q) { setMatches(null); setSearchError(null); return undefined; }
    const timer = setTimeout(() => {
      getAll('/v1/companies', { q })
        .then((found) => { setMatches(new Set(found.map((c) => c.company_id))); setSearchError(null); })
        .catch((problem) => { setMatches(new Set()); setSearchError(problem); });
    }, 200);
    return () => clearTimeout(timer);
  }, [query]);

  const options = useMemo(() => {
    const list = rows || [];
    const distinct = (field) => [...new Set(list.map((r) => r[field]).filter(Boolean))].sort();
    const grades = distinct('grade').sort((a, b) => GRADE_ORDER.indexOf(a) - GRADE_ORDER.indexOf(b));
    return { grades, sectors: distinct('sector'), countries: distinct('country') };
  }, [rows]);

  if (error) return html`<${ErrorLine} error=${error} />`;
  if (!rows) return html`<${Loading} />`;
  const shown = rows.filter((r) => (!grade || r.grade === grade) && (!sector || r.sector === sector)
    && (!country || r.country === country) && (!matches || matches.has(r.company_id)));
  const select = (id, label, value, set, values) => html`<label for=${id}>${label}
      <select id=${id} value=${value} onChange=${(e) => set(e.target.value)}>
        <option value="">${t('portfolio.all')}</option>
        ${values.map((v) => html`<option value=${v}>${v}</option>`)}
      </select></label>`;
  return html`<div>
    <h1>${t('portfolio.title')}</h1>
    <div class="filters">
      <label for="search">${t('portfolio.search')}
        <input id="search" type="search" size="32" value=${query} onInput=${(e) => setQuery(e.target.value)} /></label>
      ${select('filter-grade', t('portfolio.grade'), grade, setGrade, options.grades)}
      ${select('filter-sector', t('portfolio.sector'), sector, setSector, options.sectors)}
      ${select('filter-country', t('portfolio.country'), country, setCountry, options.countries)}
      <button type="button" id="export-csv" class="secondary"
              onClick=${() => download('riskgraph-portfolio.csv', toCsv(shown))}>${t('portfolio.export')}</button>
    </div>
    <${ErrorLine} error=${searchError} />
    <p class="muted small" id="portfolio-count">${t('portfolio.count', { shown: shown.length, total: rows.length })}</p>
    <div class="card">
    <table id="portfolio-table">
      <thead><tr>
        <th>${t('col.company')}</th><th>${t('col.ticker')}</th><th class="num">${t('col.pd')}</th>
        <th>${t('col.grade')}</th><th>${t('col.band')}</th><th class="num">${t('col.change')}</th>
        <th>${t('col.segment')}</th><th>${t('col.filed')}</th><th class="num">${t('col.age')}</th>
        <th>${t('col.sector')}</th><th>${t('col.country')}</th>
      </tr></thead>
      <tbody>
        ${shown.map((r) => {
          const change = r.change?.pd_change;
          const age = daysSince(r.filed_at);
          return html`<tr data-company-id=${r.company_id}>
            <td><a href=${`#/company/${encodeURIComponent(r.company_id)}`}>${r.name}</a>
              ${r.status === 'insufficient_data' && html` <span class="badge warn">${t('status.insufficient_data')}</span>`}
              ${r.in_default && html` <span class="badge bad">${t('status.in_default')}</span>`}</td>
            <td>${r.ticker || '–'}</td>
            <td class="num">${pct(r.pd)}</td>
            <td><${Grade} grade=${r.grade} /></td>
            <td>${r.agency_band || '–'}</td>
            <td class=${`num ${change > 0 ? 'up' : change < 0 ? 'down' : ''}`}
                title=${r.change?.previous_filed_at ? `${r.change.previous_filed_at}: ${pct(r.change.previous_pd)}` : ''}>${pp(change)}</td>
            <td>${r.segment || '–'}</td>
            <td>${r.filed_at}</td>
            <td class=${`num ${age > 495 ? 'up' : ''}`}>${age === null ? '–' : t('common.days', { n: age })}</td>
            <td>${r.sector || '–'}</td>
            <td>${r.country}</td>
          </tr>`;
        })}
      </tbody>
    </table>
    ${shown.length === 0 && html`<p class="muted">${t('portfolio.nomatch')}</p>`}
    </div>
  </div>`;
}
