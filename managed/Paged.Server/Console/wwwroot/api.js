// Calls to the server's OpenAI-compatible API: the API key (asked for on a 401, kept in sessionStorage)
// and server-sent-event streams read with fetch.

const KEY_STORAGE = 'paged.apiKey';
let keyPrompt = null; // one dialog at a time, shared by every call that got a 401

export function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE) || '';
}

function headers(extra) {
  const h = { ...extra };
  const key = apiKey();
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

/** Shows the key dialog; resolves true when a key was saved, false when cancelled. */
export function askForKey(reason) {
  if (keyPrompt) return keyPrompt;
  const dialog = document.getElementById('key-dialog');
  const input = document.getElementById('key-input');
  document.getElementById('key-reason').textContent = reason || 'This server requires an API key.';
  input.value = apiKey();
  keyPrompt = new Promise((resolve) => {
    const form = document.getElementById('key-form');
    const cancel = document.getElementById('key-cancel');
    const done = (saved) => {
      form.removeEventListener('submit', onSubmit);
      cancel.removeEventListener('click', onCancel);
      dialog.removeEventListener('cancel', onCancel);
      if (dialog.open) dialog.close();
      keyPrompt = null;
      resolve(saved);
    };
    const onSubmit = (e) => {
      e.preventDefault();
      sessionStorage.setItem(KEY_STORAGE, input.value.trim());
      done(true);
    };
    const onCancel = (e) => { e.preventDefault(); done(false); };
    form.addEventListener('submit', onSubmit);
    cancel.addEventListener('click', onCancel);
    dialog.addEventListener('cancel', onCancel);
    dialog.showModal();
    input.focus();
  });
  return keyPrompt;
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** fetch with the API key; on 401 asks for a key and retries (until the user cancels). */
export async function apiFetch(path, init = {}) {
  for (;;) {
    const response = await fetch(path, { ...init, headers: headers(init.headers) });
    if (response.status !== 401) return response;
    const reason = apiKey() ? 'The API key was not accepted. Enter the server\'s key.' : 'This server requires an API key.';
    if (!(await askForKey(reason))) throw new ApiError(401, 'an API key is required');
  }
}

/** GET a JSON document (throws ApiError with the server's message). */
export async function getJson(path, signal) {
  const response = await apiFetch(path, { signal });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body?.error?.message || `${response.status} ${response.statusText}`);
  return body;
}

/**
 * POSTs a streaming request and calls onEvent(json) for every SSE data payload until [DONE].
 * Aborting the signal stops reading and closes the connection, which cancels the request on the server.
 */
export async function streamJson(path, body, onEvent, signal) {
  const response = await apiFetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' },
    body: JSON.stringify(body),
    signal,
  });
  if (!response.ok) {
    const error = await response.json().catch(() => null);
    throw new ApiError(response.status, error?.error?.message || `${response.status} ${response.statusText}`);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
      if (!data) continue;
      if (data === '[DONE]') return;
      const json = JSON.parse(data);
      if (json.error) throw new ApiError(500, json.error.message);
      onEvent(json);
    }
  }
}
