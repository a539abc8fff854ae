// Hand-drawn canvas charts: a time-series line chart and the KV block map.

const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

/** Sizes a canvas's backing store to its CSS box times the device pixel ratio; returns a 2D context in CSS pixels. */
function fit(canvas, cssHeight) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 300;
  const height = cssHeight ?? (canvas.clientHeight || 200);
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  return { ctx, width, height };
}

export function formatValue(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (a >= 1e4) return `${(v / 1e3).toFixed(1)}k`;
  if (a >= 100) return v.toFixed(0);
  if (a >= 1) return v.toFixed(a >= 10 ? 1 : 2);
  if (a === 0) return '0';
  return v.toPrecision(2);
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= v);
}

/** A line chart of the last `capacity` samples of a few series. */
export class LineChart {
  constructor(canvas, series, { capacity = 60, unit = '', fixedMax = null } = {}) {
    this.canvas = canvas;
    this.series = series.map((s) => ({ ...s, values: [] }));
    this.capacity = capacity;
    this.unit = unit;
    this.fixedMax = fixedMax;
    this.label = canvas.getAttribute('aria-label') || '';
  }

  /** Adds one sample per series (null for a gap) and redraws. */
  push(values) {
    this.series.forEach((s, i) => {
      s.values.push(values[i]);
      if (s.values.length > this.capacity) s.values.shift();
    });
    this.draw();
    const now = this.series.map((s) => `${s.label} ${formatValue(s.values.at(-1))}${this.unit}`).join(', ');
    this.canvas.setAttribute('aria-label', `${this.label}: ${now}`);
  }

  draw() {
    if (!this.canvas.clientWidth) return; // hidden tab: drawn when shown
    const { ctx, width, height } = fit(this.canvas);
    ctx.font = '11px system-ui, sans-serif';
    // Legend entries flow left to right and wrap; the plot starts below them.
    const legend = [];
    let lx = 44, ly = 11;
    for (const s of this.series) {
      const text = `${s.label} ${formatValue(s.values.at(-1))}`;
      const w = 24 + ctx.measureText(text).width;
      if (lx + w > width && lx > 44) { lx = 44; ly += 16; }
      legend.push({ s, text, x: lx, y: ly });
      lx += w;
    }
    const left = 44, right = 8, top = ly + 14, bottom = 16;
    const w = width - left - right, h = height - top - bottom;
    const all = this.series.flatMap((s) => s.values).filter((v) => v !== null && v !== undefined && Number.isFinite(v));
    const max = this.fixedMax ?? niceMax(Math.max(0, ...all) * 1.05);
    const muted = css('--muted'), line = css('--line');
    ctx.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const y = top + h - (h * i) / 4;
      ctx.strokeStyle = line;
      ctx.beginPath(); ctx.moveTo(left, y + 0.5); ctx.lineTo(left + w, y + 0.5); ctx.stroke();
      ctx.fillStyle = muted;
      ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
      ctx.fillText(formatValue((max * i) / 4), left - 6, y);
    }
    ctx.textAlign = 'left'; ctx.textBaseline = 'alphabetic';
    ctx.fillText(`${this.capacity} s`, left, height - 3);
    ctx.textAlign = 'right';
    ctx.fillText('now', left + w, height - 3);
    for (const s of this.series) {
      const color = css(s.color);
      const x0 = left + w - ((s.values.length - 1) * w) / (this.capacity - 1);
      const point = (i) => [x0 + (i * w) / (this.capacity - 1), top + h - (Math.min(s.values[i], max) / max) * h];
      if (s.fill) {
        ctx.fillStyle = color + '33';
        let open = false;
        ctx.beginPath();
        s.values.forEach((v, i) => {
          if (v === null || v === undefined) return;
          const [x, y] = point(i);
          if (!open) { ctx.moveTo(x, top + h); open = true; }
          ctx.lineTo(x, y);
        });
        if (open) { ctx.lineTo(left + w, top + h); ctx.closePath(); ctx.fill(); }
      }
      ctx.strokeStyle = color;
      ctx.lineWidth = 2;
      ctx.setLineDash(s.dash ? [5, 4] : []);
      ctx.beginPath();
      let pen = false;
      s.values.forEach((v, i) => {
        if (v === null || v === undefined || !Number.isFinite(v)) { pen = false; return; }
        const [x, y] = point(i);
        if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
        pen = true;
      });
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.lineWidth = 1;
    }
    ctx.textAlign = 'left'; ctx.textBaseline = 'middle';
    for (const { s, text, x, y } of legend) {
      ctx.fillStyle = css(s.color);
      ctx.fillRect(x, y - 5, 10, 10);
      ctx.fillStyle = muted;
      ctx.fillText(text, x + 14, y);
    }
  }
}

const STATE_COLORS = { '.': '--free', c: '--cached', u: '--used', s: '--shared' };

/** One cell per KV block, coloured by its state character ('.' free, 'c' cached, 'u' used, 's' shared). */
export function drawBlockMap(canvas, states) {
  const width = canvas.clientWidth;
  if (!width || !states) return;
  const n = states.length;
  const maxHeight = 260;
  let cell = Math.max(2, Math.min(14, Math.floor(Math.sqrt((width * maxHeight) / Math.max(1, n)))));
  const gap = cell >= 6 ? 1 : 0;
  const cols = Math.max(1, Math.floor(width / cell));
  const rows = Math.ceil(n / cols);
  const { ctx } = fit(canvas, rows * cell);
  canvas.style.height = `${rows * cell}px`;
  const colors = Object.fromEntries(Object.entries(STATE_COLORS).map(([k, v]) => [k, css(v)]));
  for (let i = 0; i < n; i++) {
    ctx.fillStyle = colors[states[i]] || colors['.'];
    ctx.fillRect((i % cols) * cell, Math.floor(i / cols) * cell, cell - gap, cell - gap);
  }
}
