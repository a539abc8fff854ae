// The dashboard and the request table, both fed by GET /v1/status once a second.
import { getJson } from './api.js';
import { LineChart, drawBlockMap, formatValue } from './charts.js';
import { escape } from './tokens.js';

const $ = (id) => document.getElementById(id);
const WINDOW = 10; // polls over which latency quantiles are computed

/** The q-quantile of observations between two cumulative bucket lists ([[le, count]...]), as histogram_quantile. */
export function windowQuantile(now, before, q) {
  const counts = now.map(([, c], i) => c - (before?.[i]?.[1] ?? 0));
  const total = counts.at(-1) ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let lower = 0, below = 0;
  for (let i = 0; i < now.length; i++) {
    const upper = now[i][0] === '+Inf' ? Infinity : now[i][0];
    if (counts[i] >= rank && counts[i] > below) {
      return upper === Infinity ? lower : lower + ((upper - lower) * (rank - below)) / (counts[i] - below);
    }
    lower = upper;
    below = counts[i];
  }
  return lower;
}

const seconds = (v) => (v === null || v === undefined ? '–' : v < 1 ? `${(v * 1000).toFixed(v < 0.01 ? 2 : 0)} ms` : `${v.toFixed(2)} s`);

export class Dashboard {
  constructor(onState) {
    this.onState = onState;
    this.history = []; // recent status documents (for rates and windowed quantiles)
    this.charts = {
      requests: new LineChart($('chart-requests'), [
        { label: 'running', color: '--c1', fill: true }, { label: 'waiting', color: '--c2' }, { label: 'swapped', color: '--c4', dash: true }]),
      kv: new LineChart($('chart-kv'), [
        { label: 'used', color: '--used', fill: true }, { label: 'cached', color: '--cached' }, { label: 'free', color: '--c5', dash: true }]),
      tokens: new LineChart($('chart-tokens'), [{ label: 'prompt', color: '--c4' }, { label: 'generation', color: '--c1', fill: true }], { unit: ' tok/s' }),
      latency: new LineChart($('chart-latency'), [
        { label: 'TTFT p50', color: '--c1' }, { label: 'TTFT p99', color: '--c1', dash: true },
        { label: 'ITL p50', color: '--c2' }, { label: 'ITL p99', color: '--c2', dash: true }], { unit: ' s' }),
      cache: new LineChart($('chart-cache'), [{ label: 'hit rate %', color: '--c3', fill: true }, { label: 'preemptions/s', color: '--c2' }]),
    };
    window.addEventListener('resize', () => this.redraw());
  }

  start() {
    const tick = async () => {
      if (!document.hidden) await this.poll();
      this.timer = setTimeout(tick, 1000);
    };
    tick();
  }

  async poll() {
    try {
      const s = await getJson('/v1/status');
      this.onState(true, `${s.model} · ${s.device} · ${s.requests.running} running`);
      this.update(s);
    } catch (e) {
      this.onState(false, e.message);
    }
  }

  redraw() {
    for (const c of Object.values(this.charts)) c.draw();
    if (this.last) drawBlockMap($('blockmap'), this.last.kv_cache.block_states);
  }

  update(s) {
    const prev = this.history.at(-1);
    const old = this.history.length >= WINDOW ? this.history[this.history.length - WINDOW] : this.history[0];
    this.history.push(s);
    if (this.history.length > WINDOW + 1) this.history.shift();
    this.last = s;
    const dt = prev ? s.time - prev.time : 0;
    const rate = (f) => (prev && dt > 0 ? Math.max(0, (f(s) - f(prev)) / dt) : null);
    const promptRate = rate((x) => x.tokens.prompt_total);
    const genRate = rate((x) => x.tokens.generation_total);
    const preemptRate = rate((x) => x.preemptions.total);
    const q = (name, p) => windowQuantile(s.latency[name].buckets, old && old !== s ? old.latency[name].buckets : null, p);
    const r = s.requests, kv = s.kv_cache;

    this.charts.requests.push([r.running, r.waiting, r.swapped]);
    this.charts.kv.push([kv.blocks_used, kv.blocks_cached, kv.blocks_free - kv.blocks_cached]);
    this.charts.tokens.push([promptRate, genRate]);
    this.charts.latency.push([q('ttft_s', 0.5), q('ttft_s', 0.99), q('itl_s', 0.5), q('itl_s', 0.99)]);
    this.charts.cache.push([s.prefix_cache.hit_rate * 100, preemptRate]);

    const tiles = [
      ['running', r.running], ['waiting', r.waiting], ['swapped', r.swapped],
      ['KV usage', `${(kv.usage * 100).toFixed(1)}%`], ['KV blocks used', `${kv.blocks_used} / ${kv.blocks_total}`],
      ['prefix-cache hits', `${(s.prefix_cache.hit_rate * 100).toFixed(1)}%`],
      ['prompt tok/s', formatValue(promptRate)], ['generation tok/s', formatValue(genRate)],
      ['TTFT p50 / p99', `${seconds(s.latency.ttft_s.p50)} / ${seconds(s.latency.ttft_s.p99)}`],
      ['ITL p50 / p99', `${seconds(s.latency.itl_s.p50)} / ${seconds(s.latency.itl_s.p99)}`],
      ['preemptions', s.preemptions.total], ['finished', Object.values(r.finished_total).reduce((a, b) => a + b, 0)],
    ];
    $('tiles').innerHTML = tiles.map(([k, v]) => `<div class="tile"><div class="v">${escape(v)}</div><div class="k">${escape(k)}</div></div>`).join('');

    $('blockmap-caption').textContent = `${kv.blocks_total} blocks of ${kv.block_size} tokens: ${kv.blocks_used} used (${kv.blocks_shared} shared), ${kv.blocks_cached} cached, ${kv.blocks_free - kv.blocks_cached} empty`
      + (kv.host_slots_total ? `; ${kv.host_slots_used}/${kv.host_slots_total} host swap slots` : '');
    $('blockmap').setAttribute('aria-label', `KV block map: ${$('blockmap-caption').textContent}`);
    drawBlockMap($('blockmap'), kv.block_states);
    this.tenants(s);
    this.requests(s.recent_requests);
  }

  tenants(s) {
    const card = $('tenants-card');
    card.hidden = s.policy !== 'fair';
    if (card.hidden) return;
    const running = s.tenants.reduce((a, t) => a + t.running, 0);
    const rows = s.tenants.map((t) => {
      const share = running ? t.running / running : 0;
      return `<tr><th scope="row">${escape(t.tenant || '(default)')}</th><td class="num">${t.running}</td><td class="num">${t.waiting}</td><td class="num">${t.swapped}</td>`
        + `<td class="num">${formatValue(t.counter)}</td><td class="share"><div class="bar" data-share="${share}" role="img" aria-label="${(share * 100).toFixed(0)}% of the running batch"></div></td></tr>`;
    }).join('');
    $('tenants').innerHTML = `<table class="tenants"><thead><tr><th scope="col">Tenant</th><th scope="col" class="num">Running</th><th scope="col" class="num">Waiting</th>`
      + `<th scope="col" class="num">Swapped</th><th scope="col" class="num">Virtual tokens</th><th scope="col">Share of running</th></tr></thead><tbody>${rows || '<tr><td colspan="6">no requests</td></tr>'}</tbody></table>`;
    // Widths through the CSSOM: the page's Content-Security-Policy forbids inline style attributes.
    for (const bar of $('tenants').querySelectorAll('.bar')) bar.style.width = `${(Number(bar.dataset.share) * 100).toFixed(1)}%`;
  }

  requests(recent) {
    $('requests-caption').textContent = `(${recent.items.length} shown, ${recent.recorded_total} since start, keeping ${recent.capacity})`;
    const time = (t) => new Date(t * 1000).toLocaleTimeString();
    $('requests-table').tBodies[0].innerHTML = recent.items.map((x) => `<tr><td>${escape(x.id)}</td><td>${escape(x.tenant || '–')}</td><td>${time(x.arrival_time)}</td>`
      + `<td class="num">${seconds(x.queue_s)}</td><td class="num">${seconds(x.ttft_s)}</td><td class="num">${seconds(x.tpot_s)}</td><td class="num">${seconds(x.total_s)}</td>`
      + `<td class="num">${x.prompt_tokens}</td><td class="num">${x.cached_prompt_tokens}</td><td class="num">${x.completion_tokens}</td><td class="num">${x.preemptions}</td>`
      + `<td>${escape(x.finish_reason)}</td></tr>`).join('');
  }
}
