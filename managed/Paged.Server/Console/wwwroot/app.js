// The console's entry point: tabs, the server indicator, the API key button, the playground and the dashboard.
import { askForKey } from './api.js';
import { Playground } from './playground.js';
import { Dashboard } from './dashboard.js';

const $ = (id) => document.getElementById(id);

function setupTabs(onShow) {
  const tabs = [...document.querySelectorAll('[role=tab]')];
  const select = (tab) => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute('aria-selected', String(on));
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute('aria-controls')).hidden = !on;
    }
    history.replaceState(null, '', `#${tab.id.slice(4)}`);
    onShow();
  };
  tabs.forEach((tab, i) => {
    tab.addEventListener('click', () => select(tab));
    tab.addEventListener('keydown', (e) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
      if (e.key === 'Home' || e.key === 'End' || step) {
        const next = e.key === 'Home' ? tabs[0] : e.key === 'End' ? tabs.at(-1) : tabs[(i + step + tabs.length) % tabs.length];
        next.focus();
        select(next);
        e.preventDefault();
      }
    });
  });
  const initial = tabs.find((t) => `#${t.id.slice(4)}` === location.hash);
  if (initial) select(initial);
}

function setState(ok, text) {
  $('server-state').className = `dot ${ok ? 'ok' : 'bad'}`;
  $('server-text').textContent = text;
}

const playground = new Playground();
const dashboard = new Dashboard(setState);
window.pagedConsole = { playground, dashboard };
setupTabs(() => dashboard.redraw());
$('key-button').addEventListener('click', async () => {
  if (await askForKey('Enter the server\'s API key.')) playground.loadModels().catch((e) => setState(false, e.message));
});
playground.loadModels().then(() => dashboard.start(), (e) => { setState(false, e.message); dashboard.start(); });
