// A company: its latest score, PD history (filings and default events marked), signed drivers with plain labels,
// formulas and "filled in" marks, the feature values and statement behind the score, alerts with an acknowledge
// button, and a what-if through POST /v1/score.
import { useEffect, useState } from 'preact/hooks';
import { get, getAll, post } from './api.js';
import { t } from './i18n.js';
import { html, pct, num, Grade, ErrorLine, Loading } from './ui.js';
import { PdChart } from './charts.js';

const settle = (promise) => promise.then((value) => ({ value }), (error) => ({ error }));

function Drivers({ drivers, catalogue }) {
  const largest = Math.max(1e-9, ...drivers.contributions.map((c) => Math.abs(c.contribution)));
  return html`<div class="card" id="drivers">
    <h2>${t('company.drivers')}</h2>
    <p class="muted small">${t('company.drivers.help', { base: num(drivers.base, 3), other: num(drivers.other, 3) })}</p>
    <table>
      <thead><tr><th>${t('col.feature')}</th><th class="num">${t('col.value')}</th>
        <th class="num">${t('col.contribution')}</th><th></th></tr></thead>
      <tbody>${drivers.contributions.map((c) => {
        const info = catalogue[c.feature] || {};
        return html`<tr class="driver" data-feature=${c.feature}>
          <td><strong class="driver-label">${c.label || info.label || c.feature}</strong>
            <div class="formula">${c.formula || info.formula || c.feature}</div></td>
          <td class="num">${c.imputed
            ? html`<span class="badge warn filled-in" title=${t('company.filled.help')}>${t('company.filled')}</span>`
            : num(c.value)}${c.unit && !c.imputed ? html` <span class="muted small">${c.unit}</span>` : ''}</td>
          <td class=${`num ${c.contribution > 0 ? 'up' : 'down'}`}>${c.contribution > 0 ? '+' : '−'}${num(Math.abs(c.contribution), 3)}</td>
          <td><span class=${`bar ${c.contribution > 0 ? 'pos' : 'neg'}`}
                    style=${`width:${Math.round((80 * Math.abs(c.contribution)) / largest)}px`}></span></td>
        </tr>`;
      })}</tbody>
    </table>
    ${drivers.overlay?.length > 0 && html`<h3>${t('company.overlay')}</h3><ul>
      ${drivers.overlay.map((o) => html`<li>${o.name} ×${num(o.multiplier, 2)}: ${o.reason}</li>`)}</ul>`}
  </div>`;
}

function FeatureValues({ values, catalogue, classic }) {
  const names = Object.keys(values || {});
  return html`<div class="card" id="feature-values">
    <h2>${t('company.features')}</h2>
    <table><thead><tr><th>${t('col.feature')}</th><th>${t('col.formula')}</th><th class="num">${t('col.value')}</th></tr></thead>
    <tbody>${names.map((name) => {
      const info = catalogue[name] || {};
      const value = values[name];
      return html`<tr data-feature=${name}><td>${info.label || name} <span class="muted small">${name}</span></td>
        <td class="formula">${info.formula || ''}</td>
        <td class="num">${value === null || value === undefined
          ? html`<span class="badge warn filled-in" title=${t('company.filled.help')}>${t('company.filled')}</span>`
          : num(value)}</td></tr>`;
    })}</tbody></table>
    ${classic && html`<h3>${t('company.classic')}</h3><table><tbody>
      ${Object.entries(classic).map(([name, c]) => html`<tr><td>${name}</td>
        <td class="num">${num(c.value, 3)}</td><td>${c.zone || ''}</td><td class="muted small">${c.reason || ''}</td></tr>`)}
    </tbody></table>`}
  </div>`;
}

function Alerts({ companyId }) {
  const [alerts, setAlerts] = useState(null);
  const [error, setError] = useState(null);
  const [notes, setNotes] = useState({});
  const load = () => getAll('/v1/alerts', { company_id: companyId }).then(setAlerts, setError);
  useEffect(() => { load(); }, [companyId]);
  async function acknowledge(alert) {
    const id = `${alert.as_of}/${alert.model_version}`;
    setNotes({ ...notes, [id]: { busy: true } });
    try {
      await post(`/v1/alerts/${encodeURIComponent(alert.company_id)}/${alert.as_of}/${encodeURIComponent(alert.model_version)}/acknowledge`);
      setNotes({ ...notes, [id]: { done: true } });
      load();
    } catch (problem) {
      setNotes({ ...notes, [id]: { error: problem } });
    }
  }
  return html`<div class="card" id="alerts">
    <h2>${t('company.alerts')}</h2>
    <${ErrorLine} error=${error} />
    ${alerts === null && !error ? html`<${Loading} />` : null}
    ${alerts && alerts.length === 0 && html`<p class="muted">${t('company.noalerts')}</p>`}
    ${alerts && alerts.length > 0 && html`<table><thead><tr><th>${t('col.date')}</th><th>${t('col.previous')}</th>
      <th>${t('col.pd')}</th><th>${t('col.reasons')}</th><th></th></tr></thead><tbody>
      ${alerts.map((a) => {
        const note = notes[`${a.as_of}/${a.model_version}`] || {};
        return html`<tr class="alert-row" data-as-of=${a.as_of}>
          <td>${a.as_of}</td>
          <td>${pct(a.previous_pd)} <${Grade} grade=${a.previous_grade} /></td>
          <td>${pct(a.pd)} <${Grade} grade=${a.grade} /></td>
          <td>${a.reasons}</td>
          <td>${a.acknowledged_at
            ? html`<span class="ok small">${t('company.acked', { at: a.acknowledged_at.slice(0, 16).replace('T', ' '), by: a.acknowledged_by })}</span>`
            : html`<button type="button" class="ack" disabled=${note.busy} onClick=${() => acknowledge(a)}>${t('company.ack')}</button>`}
            ${note.done && html`<div class="ok small">${t('company.ack.done')}</div>`}
            <${ErrorLine} error=${note.error} /></td>
        </tr>`;
      })}</tbody></table>`}
  </div>`;
}

function cleanItems(items) {
  return Object.fromEntries(Object.entries(items || {}).filter(([, v]) => v !== null && v !== undefined));
}

function WhatIf({ statement, priors, segment }) {
  const [values, setValues] = useState({});
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  if (!statement) return html`<div class="card" id="what-if"><h2>${t('whatif.title')}</h2><p class="muted">${t('whatif.nostatement')}</p></div>`;
  const filed = cleanItems(statement.items);
  const names = Object.keys(filed);
  const changed = Object.fromEntries(Object.entries(values).filter(([name, v]) => v !== '' && Number(v) !== filed[name]));
  async function score(event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const base = { segment: segment || undefined, currency: statement.currency === 'KRW' ? 'KRW' : 'USD',
      fiscal_year: statement.fiscal_year, prior_years: priors.map((p) => cleanItems(p.items)) };
    const mine = { ...filed };
    for (const [name, v] of Object.entries(changed)) mine[name] = Number(v);
    try {
      const answer = await post('/v1/score', { statements: [
        { ...base, reference: 'as-filed', items: filed }, { ...base, reference: 'what-if', items: mine }] });
      setResult(answer);
    } catch (problem) {
      setResult(null);
      setError(problem);
    } finally {
      setBusy(false);
    }
  }
  const line = (label, r, id) => r && html`<div class="result" id=${id}>${label}: <strong class="pd">${pct(r.pd, 3)}</strong>
    <${Grade} grade=${r.grade} /> ${r.agency_band} <span class="muted small">${r.model_name} v${r.model_version}</span>
    ${r.out_of_domain && html` <span class="badge warn" title=${r.domain_note}>${t('status.out_of_domain')}</span>`}</div>`;
  return html`<div class="card whatif" id="what-if">
    <h2>${t('whatif.title')}</h2>
    <p class="muted small">${t('whatif.help')}</p>
    <form onSubmit=${score}>
      <table><thead><tr><th>${t('whatif.item')}</th><th class="num">${t('whatif.filed')}</th><th>${t('whatif.yours')}</th></tr></thead>
      <tbody>${names.map((name) => html`<tr class=${name in changed ? 'changed' : ''}>
        <td>${name}</td><td class="num">${num(filed[name])}</td>
        <td><input type="number" step="any" name=${name} data-item=${name} value=${values[name] ?? ''}
                   placeholder=${String(filed[name])} onInput=${(e) => setValues({ ...values, [name]: e.target.value })} /></td>
      </tr>`)}</tbody></table>
      <p><button type="submit" id="what-if-score" disabled=${busy}>${t('whatif.score')}</button>
        <button type="button" class="secondary" onClick=${() => { setValues({}); setResult(null); }}>${t('whatif.reset')}</button></p>
    </form>
    <${ErrorLine} error=${error} />
    ${result && line(t('whatif.base'), result.results[0], 'what-if-base')}
    ${result && line(t('whatif.changed'), result.results[1], 'what-if-result')}
  </div>`;
}

function TermStructure({ term }) {
  return html`<div class="card" id="term-structure">
    <h2>${t('company.term')}</h2>
    <p class="muted small">${t('company.term.help', { rho: num(term.rho, 3), longrun: pct(term.long_run, 2) })}</p>
    <table><thead><tr><th>${t('col.years')}</th><th class="num">${t('col.cumulative')}</th>
      <th class="num">${t('col.marginal')}</th></tr></thead>
    <tbody>${term.curve.map((p) => html`<tr class="term-point"><td>${p.years}</td>
      <td class="num">${pct(p.cumulative_pd, 2)}</td><td class="num">${pct(p.marginal_pd, 2)}</td></tr>`)}</tbody></table>
  </div>`;
}

function Peers({ comparison }) {
  const basis = t(`peers.basis.${comparison.basis}`);
  return html`<div class="card" id="peers">
    <h2>${t('company.peers')}</h2>
    <p class="muted small" id="peer-basis">${t('company.peers.help', { n: comparison.peers, basis,
      sector: comparison.sector || '–', band: comparison.size_band || '–' })}</p>
    <table><thead><tr><th>${t('col.feature')}</th><th class="num">${t('col.value')}</th>
      <th class="num">${t('col.median')}</th><th>${t('col.percentile')}</th></tr></thead>
    <tbody>${comparison.metrics.map((m) => {
      const riskier = m.percentile === null || !m.riskier_when ? null
        : (m.riskier_when === 'higher' ? m.percentile : 100 - m.percentile);
      const format = (v) => (m.metric === 'pd' ? pct(v, 2) : num(v, 3));
      return html`<tr class="peer-metric" data-metric=${m.metric}>
        <td>${m.label} <div class="formula">${m.formula || ''}</div></td>
        <td class="num">${m.value === null ? html`<span class="muted">${t('peers.notreported')}</span>` : format(m.value)}</td>
        <td class="num">${format(m.peer_median)}</td>
        <td>${m.percentile === null ? '–' : html`<span class="pctl">${num(m.percentile, 0)}</span>
          <span class=${`bar ${riskier === null ? '' : riskier >= 75 ? 'pos' : riskier <= 25 ? 'neg' : ''}`}
                style=${`width:${Math.round(0.8 * m.percentile)}px`}></span>
          ${riskier !== null && riskier >= 75 ? html` <span class="badge warn small">${t('peers.riskier')}</span>` : ''}`}</td>
      </tr>`;
    })}</tbody></table>
  </div>`;
}

export function Company({ id }) {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    (async () => {
      const profile = await get(`/v1/companies/${encodeURIComponent(id)}`);
      const latest = profile.latest_score;
      const [history, events, catalogue, detail, statements, term, peers] = await Promise.all([
        settle(get(`/v1/companies/${encodeURIComponent(id)}/scores`, latest ? { model_version: latest.model_version } : {})),
        settle(get(`/v1/app/companies/${encodeURIComponent(id)}/default-events`)),
        settle(get('/v1/app/features')),
        latest ? settle(get(`/v1/companies/${encodeURIComponent(id)}/scores/${latest.as_of}/drivers`,
          { model_version: latest.model_version, kind: latest.kind })) : Promise.resolve({ value: null }),
        settle(get(`/v1/companies/${encodeURIComponent(id)}/statements`, { limit: 40 })),
        latest?.pd != null ? settle(get(`/v1/companies/${encodeURIComponent(id)}/term-structure`))
          : Promise.resolve({ value: null }),
        latest ? settle(get(`/v1/companies/${encodeURIComponent(id)}/peers`)) : Promise.resolve({ value: null }),
      ]);
      setData({ profile, history, events, detail, statements, term, peers,
        catalogue: Object.fromEntries((catalogue.value?.items || []).map((f) => [f.name, f])) });
    })().catch(setError);
  }, [id]);
  if (error) return html`<p><a href="#/portfolio">${t('company.back')}</a></p><${ErrorLine} error=${error} />`;
  if (!data) return html`<${Loading} />`;
  const { profile, history, events, detail, statements, catalogue, term, peers } = data;
  const company = profile.company;
  const latest = profile.latest_score;
  const all = statements.value?.items || [];
  const statement = latest ? all.find((s) => s.accession === latest.accession && s.period_end === latest.period_end) || all[0] : all[0];
  const priors = statement ? [1, 2].map((k) => all.find((s) => s.fiscal_year === statement.fiscal_year - k
    && (s.period_type || 'FY') === 'FY')).filter(Boolean) : [];
  const scores = history.value?.scores || [];
  return html`<div>
    <p><a href="#/portfolio">${t('company.back')}</a></p>
    <h1 id="company-name">${company.name} <span class="muted small">${[company.ticker, company.cik, company.dart_corp_code, company.country, company.sector].filter(Boolean).join(' · ')}</span></h1>
    <div class="grid2">
      <div class="card" id="latest-score">
        <h2>${t('company.latest')}</h2>
        ${latest ? html`<dl class="kv">
          <dt>${t('col.pd')}</dt><dd><strong>${pct(latest.pd, 3)}</strong>
            ${latest.status === 'insufficient_data' && html` <span class="badge warn">${t('status.insufficient_data')}</span>`}
            ${latest.in_default && html` <span class="badge bad">${t('status.in_default')}</span>`}
            ${latest.out_of_domain && html` <span class="badge warn">${t('status.out_of_domain')}</span>`}</dd>
          <dt>${t('col.grade')}</dt><dd><${Grade} grade=${latest.grade} /> ${latest.agency_band || ''}</dd>
          <dt>${t('company.percentile')}</dt><dd>${latest.percentile === null ? '–' : num(latest.percentile, 1)}</dd>
          <dt>${t('company.asof')}</dt><dd>${latest.as_of}</dd>
          <dt>${t('company.statement')}</dt><dd>${latest.period_end} (${latest.period_type || 'FY'}), ${t('col.filed')} ${latest.filed_at} (${t('company.age', { days: latest.statement_age_days ?? '?' })}),
            ${' '}${latest.accession}</dd>
          <dt>${t('company.model')}</dt><dd>${latest.model_name} v${latest.model_version} (${latest.segment})</dd>
          <dt>${t('company.segment_reason')}</dt><dd class="small">${latest.segment_reason}</dd>
          ${latest.domain_note && html`<dt>${t('company.domain')}</dt><dd class="small">${latest.domain_note}</dd>`}
        </dl>` : html`<p class="muted">${t('common.none')}</p>`}
      </div>
      <div class="card" id="history">
        <h2>${t('company.history')}</h2>
        <p class="muted small">${t('company.history.help', { version: latest?.model_version ?? '' })}</p>
        <${ErrorLine} error=${history.error} />
        <${PdChart} scores=${scores} events=${events.value?.items || []} label=${t('col.pd')} />
        <h3>${t('company.events')}</h3>
        <${ErrorLine} error=${events.error} />
        ${(events.value?.items || []).length === 0 ? html`<p class="muted small">${t('company.noevents')}</p>`
          : html`<ul id="default-events">${events.value.items.map((e) => html`<li>${e.event_date}: ${e.kind} (${e.source}${e.reference ? `, ${e.reference}` : ''})</li>`)}</ul>`}
      </div>
    </div>
    ${latest && html`<${Drivers} drivers=${latest.drivers} catalogue=${catalogue} />`}
    <${ErrorLine} error=${term.error} />
    ${term.value && html`<${TermStructure} term=${term.value} />`}
    <${ErrorLine} error=${peers.error} />
    ${peers.value && html`<${Peers} comparison=${peers.value} />`}
    <${Alerts} companyId=${id} />
    <div class="grid2">
      <div>
        <${ErrorLine} error=${detail.error} />
        ${detail.value && html`<${FeatureValues} values=${detail.value.feature_values} catalogue=${catalogue}
                                                  classic=${profile.latest_features?.classic} />`}
        ${statement && html`<div class="card" id="statement-items"><h2>${t('company.items', { period: statement.period_end, currency: statement.currency, filed: statement.filed_at })}</h2>
          <table><tbody>${Object.entries(statement.items).map(([name, v]) => html`<tr><td>${name}</td><td class="num">${v === null ? '–' : num(v)}</td></tr>`)}</tbody></table></div>`}
      </div>
      <${WhatIf} statement=${statement} priors=${priors} segment=${latest?.segment} />
    </div>
  </div>`;
}
