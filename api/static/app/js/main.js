// The shell: sign-in with an API key, the language switch, and a hash router (#/portfolio, #/company/ID,
// #/models). Pages re-render when the language changes.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { get, getKey, setKey, clearKey } from './api.js';
import { t, languages, language, setLanguage } from './i18n.js';
import { html, ErrorLine } from './ui.js';
import { Portfolio } from './portfolio.js';
import { Company } from './company.js';
import { Models } from './models.js';

function route() {
  const parts = (window.location.hash.replace(/^#\/?/, '') || 'portfolio').split('/');
  return { page: parts[0], id: parts[1] ? decodeURIComponent(parts[1]) : null };
}

function SignIn({ onSignedIn }) {
  const [key, setValue] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  async function submit(event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setKey(key.trim());
    try {
      await get('/v1/scores', { limit: 1 });
      onSignedIn();
    } catch (problem) {
      clearKey();
      setError(problem);
    } finally {
      setBusy(false);
    }
  }
  return html`<div class="card login">
    <h1>${t('auth.title')}</h1>
    <p class="muted small">${t('auth.help')}</p>
    <form onSubmit=${submit}>
      <label for="api-key">${t('auth.key')}</label>
      <input id="api-key" name="api-key" type="password" autocomplete="off" value=${key}
             onInput=${(e) => setValue(e.target.value)} required />
      <button type="submit" id="sign-in" disabled=${busy}>${busy ? t('auth.checking') : t('auth.submit')}</button>
    </form>
    <${ErrorLine} error=${error} />
  </div>`;
}

function App() {
  const [where, setWhere] = useState(route());
  const [signedIn, setSignedIn] = useState(Boolean(getKey()));
  const [lang, setLang] = useState(language());
  useEffect(() => {
    const onHash = () => setWhere(route());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => { document.documentElement.lang = lang; document.title = t('app.title'); }, [lang]);
  const switchLanguage = (event) => { setLanguage(event.target.value); setLang(event.target.value); };
  const signOut = () => { clearKey(); setSignedIn(false); };
  let page;
  if (!signedIn) page = html`<${SignIn} onSignedIn=${() => setSignedIn(true)} />`;
  else if (where.page === 'company' && where.id) page = html`<${Company} key=${`${where.id}-${lang}`} id=${where.id} />`;
  else if (where.page === 'models') page = html`<${Models} key=${lang} />`;
  else page = html`<${Portfolio} key=${lang} />`;
  const active = (name) => (where.page === name || (name === 'portfolio' && where.page === 'company') ? 'active' : '');
  return html`
    <header class="top">
      <span class="brand">riskgraph</span>
      <nav>
        <a href="#/portfolio" class=${active('portfolio')} id="nav-portfolio">${t('nav.portfolio')}</a>
        <a href="#/models" class=${active('models')} id="nav-models">${t('nav.models')}</a>
      </nav>
      <div class="right">
        <label class="small" for="lang">${t('lang.label')}</label>
        <select id="lang" value=${lang} onChange=${switchLanguage}>
          ${languages.map((code) => html`<option value=${code}>${code === 'ko' ? '한국어' : 'English'}</option>`)}
        </select>
        ${signedIn && html`<button type="button" id="sign-out" onClick=${signOut}>${t('auth.signout')}</button>`}
      </div>
    </header>
    <main>${page}</main>`;
}

render(html`<${App} />`, document.getElementById('root'));
