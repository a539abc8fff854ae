// The playground: chat and completion requests streamed through /v1/chat/completions and /v1/completions.
import { getJson, streamJson } from './api.js';
import { TokenText, tokensOf, attachTokenTips } from './tokens.js';

const $ = (id) => document.getElementById(id);

export class Playground {
  constructor() {
    this.messages = [];       // the chat so far ({role, content})
    this.controller = null;   // the running request's AbortController
    this.transcript = $('transcript');
    attachTokenTips(this.transcript, $('token-tip'));
    $('composer').addEventListener('submit', (e) => { e.preventDefault(); this.send(); });
    $('prompt').addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); this.send(); }
    });
    $('stop-button').addEventListener('click', () => this.stop());
    $('clear').addEventListener('click', () => { this.messages = []; this.transcript.replaceChildren(); $('run-stats').value = ''; });
    for (const radio of document.querySelectorAll('input[name=mode]')) radio.addEventListener('change', () => this.modeChanged());
    this.modeChanged();
  }

  get mode() { return document.querySelector('input[name=mode]:checked').value; }

  modeChanged() {
    const chat = this.mode === 'chat';
    $('prompt-label').textContent = chat ? 'Message' : 'Prompt';
    $('send').textContent = chat ? 'Send' : 'Generate';
  }

  async loadModels() {
    const select = $('model');
    const models = await getJson('/v1/models');
    const previous = select.value;
    select.replaceChildren(...models.data.map((m) => {
      const option = document.createElement('option');
      option.value = m.id;
      option.textContent = m.parent ? `${m.id} (adapter of ${m.parent})` : m.id;
      return option;
    }));
    if (previous && models.data.some((m) => m.id === previous)) select.value = previous;
    return models.data;
  }

  /** The sampling fields of the form as request fields (empty ones left out, the server's defaults apply). */
  sampling() {
    const number = (id) => { const v = $(id).value.trim(); return v === '' ? undefined : Number(v); };
    const stop = $('stop').value.split('\n').map((s) => s.replace(/\\n/g, '\n')).filter((s) => s.length > 0);
    const body = {
      model: $('model').value,
      temperature: number('temperature'),
      top_p: number('top_p'),
      top_k: number('top_k'),
      min_p: number('min_p'),
      max_tokens: number('max_tokens'),
      seed: number('seed'),
      stop: stop.length ? stop : undefined,
      stream: true,
      stream_options: { include_usage: true },
    };
    return { body, topLogprobs: number('top_logprobs') ?? 0 };
  }

  message(role, text) {
    const div = document.createElement('div');
    div.className = `msg ${role}`;
    const who = document.createElement('span');
    who.className = 'who';
    who.textContent = role === 'prompt' ? 'prompt' : role;
    div.append(who);
    if (text !== undefined) div.append(text);
    this.transcript.append(div);
    this.transcript.scrollTop = this.transcript.scrollHeight;
    return div;
  }

  async send() {
    if (this.controller) return;
    const prompt = $('prompt').value;
    if (!prompt.trim()) { $('prompt').focus(); return; }
    const { body, topLogprobs } = this.sampling();
    const chat = this.mode === 'chat';
    let path;
    let reply;
    if (chat) {
      this.messages.push({ role: 'user', content: prompt });
      this.message('user', prompt);
      Object.assign(body, { messages: this.messages.slice(), logprobs: true, top_logprobs: topLogprobs });
      path = '/v1/chat/completions';
      reply = this.message('assistant');
      $('prompt').value = '';
    } else {
      Object.assign(body, { prompt, logprobs: topLogprobs });
      path = '/v1/completions';
      reply = this.message('prompt', prompt);
    }
    reply.tabIndex = 0;
    reply.setAttribute('aria-label', `${chat ? 'Reply' : 'Completion'}: arrow keys move between tokens`);
    const out = document.createElement('span');
    out.className = 'generated';
    reply.append(out);
    const text = new TokenText(out);

    const controller = new AbortController();
    this.controller = controller;
    this.busy(true);
    const started = performance.now();
    let firstAt = 0;
    let finish = null;
    let usage = null;
    const stats = () => {
      const now = performance.now();
      const parts = [];
      if (firstAt) parts.push(`TTFT ${Math.round(firstAt - started)} ms`);
      const n = usage?.completion_tokens ?? text.count;
      if (firstAt && n > 1 && now > firstAt) parts.push(`${((n - 1) / ((now - firstAt) / 1000)).toFixed(1)} tok/s`);
      parts.push(`${n} tokens`);
      if (usage?.prompt_tokens_details?.cached_tokens) parts.push(`${usage.prompt_tokens_details.cached_tokens} cached prompt tokens`);
      if (finish) parts.push(`finish: ${finish}`);
      $('run-stats').value = parts.join(' · ');
    };
    try {
      await streamJson(path, body, (chunk) => {
        if (chunk.usage) usage = chunk.usage;
        const choice = chunk.choices?.[0];
        if (!choice) return;
        const delta = chat ? choice.delta?.content : choice.text;
        const tokens = tokensOf(choice);
        if (!firstAt && (delta || tokens.length)) firstAt = performance.now();
        text.add(delta, tokens);
        if (choice.finish_reason) finish = choice.finish_reason;
        this.transcript.scrollTop = this.transcript.scrollHeight;
        stats();
      }, controller.signal);
    } catch (e) {
      if (e.name === 'AbortError') {
        finish = 'stopped';
      } else {
        finish = 'error';
        this.message('error', e.message);
      }
    } finally {
      if (chat && text.text) this.messages.push({ role: 'assistant', content: text.text });
      this.controller = null;
      this.busy(false);
      stats();
    }
  }

  stop() {
    this.controller?.abort();
  }

  busy(running) {
    $('send').disabled = running;
    $('stop-button').disabled = !running;
    this.transcript.setAttribute('aria-busy', String(running));
    if (running) $('stop-button').focus();
    else $('prompt').focus();
  }
}
