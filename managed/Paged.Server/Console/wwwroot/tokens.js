// Streamed text shown token by token, each token carrying its logprob and top alternatives (shown on
// hover or keyboard focus). The text deltas are authoritative (the server holds back text that could
// start a stop string); tokens are laid over them while the two agree.

/** Token entries of a chat chunk (logprobs.content) or a completions chunk (the legacy arrays), normalized. */
export function tokensOf(choice) {
  const lp = choice?.logprobs;
  if (!lp) return [];
  if (Array.isArray(lp.content)) {
    return lp.content.map((e) => ({ text: e.token, logprob: e.logprob, top: (e.top_logprobs || []).map((t) => ({ token: t.token, logprob: t.logprob })) }));
  }
  if (Array.isArray(lp.tokens)) {
    return lp.tokens.map((t, i) => ({
      text: t,
      logprob: lp.token_logprobs?.[i],
      top: Object.entries(lp.top_logprobs?.[i] || {}).map(([token, logprob]) => ({ token, logprob })),
    }));
  }
  return [];
}

/** Appends text and tokens to one element as they stream. */
export class TokenText {
  constructor(element) {
    this.element = element;
    this.text = '';       // the text deltas so far
    this.tokens = [];     // every token entry so far
    this.shown = 0;       // characters of text already placed in token spans
    this.next = 0;        // the next token to place
    this.tail = document.createTextNode('');
    this.plain = false;   // text and tokens disagreed: plain text from there on
    element.append(this.tail);
  }

  get count() { return this.tokens.length; }

  add(textDelta, tokens) {
    this.text += textDelta || '';
    this.tokens.push(...tokens);
    while (!this.plain && this.next < this.tokens.length) {
      const token = this.tokens[this.next];
      const end = this.shown + token.text.length;
      if (end > this.text.length) {
        // Not all of it is visible yet (held back, or a stop string that will never be shown).
        if (!token.text.startsWith(this.text.slice(this.shown))) this.plain = true;
        break;
      }
      if (this.text.slice(this.shown, end) !== token.text) {
        this.plain = true;
        break;
      }
      this.element.insertBefore(this.span(token), this.tail);
      this.shown = end;
      this.next++;
    }
    this.tail.data = this.text.slice(this.shown);
  }

  span(token) {
    const s = document.createElement('span');
    s.className = 'tok';
    if (token.logprob !== undefined && token.logprob < Math.log(0.1)) s.classList.add('low');
    s.tabIndex = -1;
    s.textContent = token.text;
    s.tokenInfo = token;
    return s;
  }
}

const percent = (lp) => `${(Math.exp(lp) * 100).toFixed(lp > Math.log(0.995) ? 1 : 2)}%`;
const visible = (t) => JSON.stringify(t).slice(1, -1);

/** The hover/focus tooltip of every token inside root. Arrow keys move between tokens of a focused message. */
export function attachTokenTips(root, tip) {
  const show = (span) => {
    const t = span.tokenInfo;
    if (!t) return;
    const rows = (t.top.length ? t.top : [{ token: t.text, logprob: t.logprob }])
      .map((a) => `<tr class="${a.token === t.text ? 'chosen' : ''}"><td>${escape(visible(a.token))}</td><td>${a.logprob.toFixed(3)}</td><td>${percent(a.logprob)}</td></tr>`)
      .join('');
    tip.innerHTML = `<div><strong>${escape(visible(t.text))}</strong> logprob ${t.logprob?.toFixed(3) ?? '?'} (${t.logprob === undefined ? '?' : percent(t.logprob)})</div><table aria-label="Top alternatives">${rows}</table>`;
    tip.hidden = false;
    const r = span.getBoundingClientRect();
    const w = tip.offsetWidth;
    tip.style.left = `${Math.max(4, Math.min(window.innerWidth - w - 4, r.left))}px`;
    tip.style.top = `${r.bottom + 6 + tip.offsetHeight > window.innerHeight ? r.top - tip.offsetHeight - 6 : r.bottom + 6}px`;
    span.setAttribute('aria-describedby', tip.id);
  };
  const hide = (span) => {
    tip.hidden = true;
    span?.removeAttribute?.('aria-describedby');
  };
  root.addEventListener('mouseover', (e) => { if (e.target.classList?.contains('tok')) show(e.target); });
  root.addEventListener('mouseout', (e) => { if (e.target.classList?.contains('tok')) hide(e.target); });
  root.addEventListener('focusin', (e) => { if (e.target.classList?.contains('tok')) show(e.target); });
  root.addEventListener('focusout', (e) => { if (e.target.classList?.contains('tok')) hide(e.target); });
  root.addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft' && e.key !== 'Escape') return;
    const message = e.target.closest('.msg');
    if (!message) return;
    if (e.key === 'Escape') { hide(e.target); message.focus(); return; }
    const spans = [...message.querySelectorAll('.tok')];
    if (!spans.length) return;
    const at = spans.indexOf(e.target);
    const next = at < 0 ? (e.key === 'ArrowRight' ? 0 : spans.length - 1) : Math.max(0, Math.min(spans.length - 1, at + (e.key === 'ArrowRight' ? 1 : -1)));
    spans[next].focus();
    e.preventDefault();
  });
}

export function escape(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}
