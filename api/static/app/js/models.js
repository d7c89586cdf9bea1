// Models: per segment the champion and the registered versions (each a challenger when it was trained) with the
// gate's decisions; the candidate families' AUCs at training; the gate's held-out figures and calibration by
// grade; the ROC and calibration charts logged with the run; population stability.
import { useEffect, useState } from 'preact/hooks';
import { get, getBlob } from './api.js';
import { t } from './i18n.js';
import { html, num, pct, ErrorLine, Loading } from './ui.js';
import { CalibrationChart, PsiChart } from './charts.js';

const settle = (promise) => promise.then((value) => ({ value }), (error) => ({ error }));

function Figure({ segment, version, figure, title }) {
  const [url, setUrl] = useState(null);
  const [missing, setMissing] = useState(false);
  useEffect(() => {
    let objectUrl = null;
    getBlob(`/v1/app/models/${segment}/${version}/validation/${figure}`, 'image/png')
      .then((blob) => { objectUrl = URL.createObjectURL(blob); setUrl(objectUrl); }, () => setMissing(true));
    return () => objectUrl && URL.revokeObjectURL(objectUrl);
  }, [segment, version, figure]);
  return html`<div><h3>${title}</h3>${url ? html`<img class="figure" src=${url} alt=${title} />`
    : missing ? html`<p class="muted small">${t('models.nofigure')}</p>` : html`<${Loading} />`}</div>`;
}

function Candidates({ metrics }) {
  const families = [...new Set(Object.keys(metrics).map((k) => k.match(/^(?!classic_)(.+)_cv_auc$/)?.[1]).filter(Boolean))];
  const classic = Object.keys(metrics).map((k) => k.match(/^classic_(.+)_holdout_auc$/)?.[1]).filter(Boolean);
  return html`<table class="candidates"><thead><tr><th>${t('col.family')}</th><th class="num">${t('col.holdout_auc')}</th>
    <th class="num">${t('col.cv_auc')}</th></tr></thead><tbody>
    ${families.map((f) => html`<tr><td>${f}</td><td class="num">${num(metrics[`${f}_holdout_auc`])}</td><td class="num">${num(metrics[`${f}_cv_auc`])}</td></tr>`)}
    ${classic.map((f) => html`<tr class="muted"><td>${f}</td><td class="num">${num(metrics[`classic_${f}_holdout_auc`])}</td><td class="num">–</td></tr>`)}
  </tbody></table>`;
}

function Gate({ decision }) {
  const figures = decision?.figures;
  if (!figures?.challenger) return null;
  const challenger = figures.challenger;
  const before = figures.champion;
  const rows = ['auc', 'ar', 'ks', 'brier', 'n', 'defaults', 'mean_pd', 'observed_rate', 'mean_pd_p_value', 'slope',
    'intercept', 'p_slope', 'p_joint', 'worst_grade_jeffreys_p'];
  return html`<div class="grid2">
    <div><h3>${t('models.gate')}</h3><table class="gate"><thead><tr><th>${t('col.metric')}</th>
      <th class="num">${t('col.challenger')}</th>${before && html`<th class="num">${t('col.champion_before')}</th>`}</tr></thead>
      <tbody>${rows.filter((r) => challenger[r] !== undefined).map((r) => html`<tr><td>${r}</td>
        <td class="num">${num(challenger[r])}</td>${before && html`<td class="num">${num(before[r])}</td>`}</tr>`)}</tbody></table></div>
    <div><h3>${t('models.calibration')}</h3><p class="muted small">${t('models.calibration.help')}</p>
      <${CalibrationChart} rows=${challenger.grades || []} labels=${[t('col.mean_pd'), t('col.observed')]} />
      <table class="small"><thead><tr><th>${t('col.grade')}</th><th class="num">${t('col.grade_rows')}</th>
        <th class="num">${t('col.mean_pd')}</th><th class="num">${t('col.observed')}</th><th class="num">${t('col.jeffreys')}</th></tr></thead>
      <tbody>${(challenger.grades || []).map((g) => html`<tr class=${g.fails ? 'up' : ''}><td>${g.grade}</td><td class="num">${g.rows}</td>
        <td class="num">${pct(g.mean_pd, 3)}</td><td class="num">${pct(g.observed_rate, 3)}</td><td class="num">${num(g.jeffreys_p, 3)}</td></tr>`)}</tbody></table>
    </div></div>`;
}

function Segment({ segment }) {
  const [versions, setVersions] = useState(null);
  useEffect(() => { settle(get('/v1/models', { segment: segment.segment, limit: 20 })).then(setVersions); }, [segment.segment]);
  const champion = segment.champion;
  return html`<div class="card segment" data-segment=${segment.segment}>
    <h2>${segment.title} <span class="muted small">${segment.segment} · ${segment.model_name}</span></h2>
    <dl class="kv small"><dt>${t('models.population')}</dt><dd>${segment.population}</dd>
      <dt>${t('models.training')}</dt><dd>${segment.training_data}</dd>
      <dt>${t('models.champion')}</dt><dd>${champion ? html`v${champion.version} · ${champion.tags.family || ''} ·
        ${t('col.holdout_auc')} ${num(champion.metrics.holdout_auc)}` : t('models.nochampion')}</dd></dl>
    <h3>${t('models.versions')}</h3>
    ${versions === null ? html`<${Loading} />` : html`<${ErrorLine} error=${versions.error} />`}
    ${versions?.value && html`<table class="versions"><thead><tr><th>${t('col.version')}</th><th>${t('col.aliases')}</th>
      <th>${t('col.family')}</th><th>${t('col.created')}</th><th class="num">${t('col.holdout_auc')}</th>
      <th>${t('col.decision')}</th><th>${t('col.reason')}</th></tr></thead><tbody>
      ${versions.value.versions.map((v) => html`<tr class=${v.is_champion ? 'champion' : 'challenger'}>
        <td>v${v.version}${v.is_champion && html` <span class="badge">${t('models.champion')}</span>`}</td>
        <td>${v.aliases.join(', ')}</td><td>${v.tags.family || ''}</td><td>${(v.created_at || '').slice(0, 10)}</td>
        <td class="num">${num(v.metrics.holdout_auc)}</td><td>${v.decision?.decision || '–'}</td>
        <td class="small">${v.decision?.reason || ''}</td></tr>`)}
    </tbody></table>`}
    ${champion && html`<h3>${t('models.candidates')}</h3><${Candidates} metrics=${champion.metrics} />`}
    ${champion && html`<${Gate} decision=${champion.decision} />`}
    ${champion && html`<div class="grid2">
      <${Figure} segment=${segment.segment} version=${champion.version} figure="roc" title=${t('models.roc')} />
      <${Figure} segment=${segment.segment} version=${champion.version} figure="calibration" title=${t('models.calfig')} /></div>`}
  </div>`;
}

function Stability({ report }) {
  if (report.error) return html`<${ErrorLine} error=${report.error} />`;
  const items = report.value.items;
  return html`<div class="card" id="stability"><h2>${t('models.stability')}</h2>
    <p class="muted small">${t('models.stability.help')}</p>
    ${items.length === 0 && html`<p class="muted">${t('models.nostability')}</p>`}
    ${items.map((s) => html`<div data-segment=${s.segment}><h3>${s.segment} · ${s.model} v${s.version}
      <span class="muted small">${t('models.companies', { n: s.companies })}</span></h3>
      ${(s.history || []).length > 0 && html`<div class="psi-history" data-segment=${s.segment}>
        <h4>${t('models.psi.history')}</h4><p class="muted small">${t('models.psi.history.help')}</p>
        <${PsiChart} id=${`psi-${s.segment}`} points=${s.history} labels=${[t('models.psi.pd'), t('models.psi.largest')]} />
        <table class="small psi-years"><thead><tr><th>${t('col.year')}</th><th class="num">${t('col.scores')}</th>
          <th class="num">${t('models.psi.pd')}</th><th>${t('col.status')}</th><th class="num">${t('models.psi.shifted')}</th>
          <th>${t('models.psi.largest')}</th></tr></thead><tbody>
          ${s.history.map((p) => html`<tr class=${`psi-year${p.small_sample ? ' muted' : ''}`} data-year=${p.year}>
            <td>${p.year}</td><td class="num">${p.scores}${p.small_sample ? '*' : ''}</td><td class="num">${num(p.pd_psi, 3)}</td>
            <td class=${p.pd_status === 'shift' ? 'up' : ''}>${p.pd_status}</td><td class="num">${p.features_shift}</td>
            <td>${p.largest_feature || '–'} ${p.largest_psi === null ? '' : num(p.largest_psi, 2)}</td></tr>`)}
        </tbody></table>
        <p class="muted small">${t('models.psi.small')}</p></div>`}
      <table class="small"><thead><tr><th>${t('col.feature')}</th><th class="num">${t('col.psi')}</th><th>${t('col.status')}</th>
        <th class="num">${t('col.missing_dev')}</th><th class="num">${t('col.missing_pop')}</th></tr></thead><tbody>
        <tr><td><strong>PD</strong></td><td class="num">${num(s.score.psi, 3)}</td><td>${s.score.status}</td><td></td><td></td></tr>
        ${s.features.map((f) => html`<tr><td>${f.feature}</td><td class="num">${num(f.psi, 3)}</td>
          <td class=${f.status === 'shift' ? 'up' : ''}>${f.status}</td><td class="num">${pct(f.missing_development, 1)}</td>
          <td class="num">${pct(f.missing_population, 1)}</td></tr>`)}
      </tbody></table></div>`)}
  </div>`;
}

export function Models() {
  const [data, setData] = useState(null);
  useEffect(() => {
    Promise.all([settle(get('/v1/models/segments')), settle(get('/v1/models/stability'))])
      .then(([segments, stability]) => setData({ segments, stability }));
  }, []);
  if (!data) return html`<${Loading} />`;
  return html`<div>
    <h1>${t('models.title')}</h1>
    <${ErrorLine} error=${data.segments.error} />
    ${data.segments.value?.items.map((s) => html`<${Segment} key=${s.segment} segment=${s} />`)}
    <${Stability} report=${data.stability} />
  </div>`;
}
