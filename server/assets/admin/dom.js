// Small DOM helpers for the admin app. Text always goes in as text nodes (never as HTML), so
// nothing a tenant or a Jira user wrote can become markup.

/** Creates an element: `h('button', {class: 'x', onClick: fn}, 'Save')`. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'class') {
      el.className = value;
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (key === 'value' && 'value' in el) {
      el.value = value;
    } else if (key === 'checked' || key === 'selected' || key === 'disabled' || key === 'multiple') {
      el[key] = Boolean(value);
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

let ids = 0;
/** A unique id for label/control and error/field pairs. */
export function uid(prefix) {
  ids += 1;
  return `${prefix}-${ids}`;
}

export function fmtDate(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function fmtNumber(n) {
  if (n === undefined || n === null) return '—';
  return Number(n).toLocaleString();
}

export function fmtBytes(n) {
  if (n === undefined || n === null) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

const STATUS_LABELS = {
  open: 'Open',
  resolved: 'Resolved',
  false_positive: 'False positive',
  accepted_risk: 'Accepted risk',
};

export function statusLabel(s) {
  return STATUS_LABELS[s] || s || '—';
}

/** A coloured label (`tone`: success, removed, moved, inprogress, new, default). */
export function lozenge(text, tone) {
  return h('span', { class: `lozenge lozenge-${tone || 'default'}` }, text);
}

export function statusLozenge(status) {
  const tone = {
    open: 'inprogress',
    resolved: 'success',
    false_positive: 'moved',
    accepted_risk: 'new',
  }[status];
  return lozenge(statusLabel(status), tone);
}

/** A table with a caption, column headers and rows of cells. */
export function table(caption, headers, rows, { empty = 'Nothing here yet.', hideCaption = false } = {}) {
  if (!rows.length) return h('p', { class: 'empty' }, empty);
  return h('div', { class: 'table-wrap' },
    h('table', {},
      h('caption', { class: hideCaption ? 'visually-hidden' : '' }, caption),
      h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((c) => h('td', {}, c)))))));
}

/** A message box; `tone` is info, success, warning or error. Errors are announced. */
export function message(tone, title, ...body) {
  const role = tone === 'error' ? 'alert' : 'status';
  return h('div', { class: `message message-${tone}`, role },
    title ? h('p', { class: 'message-title' }, title) : null,
    ...body.map((b) => (b instanceof Node ? b : h('p', {}, b))));
}

/** Shows a modal confirmation; resolves true when confirmed. Esc and Cancel resolve false. */
export function confirmDialog(title, text, confirmLabel) {
  // Inside Jira the frame is as tall as the page, so a dialog centred in it could open far
  // from where the admin is looking: open it next to the control that asked.
  const anchor = document.activeElement;
  return new Promise((resolve) => {
    const titleId = uid('dialog-title');
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': titleId },
      h('h2', { id: titleId }, title),
      h('p', {}, text),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'button button-primary', onClick: () => { dialog.close('yes'); } }, confirmLabel),
        h('button', { type: 'button', class: 'button', onClick: () => { dialog.close('no'); } }, 'Cancel')));
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'yes');
      dialog.remove();
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    if (anchor && anchor !== document.body && anchor.getBoundingClientRect) {
      const top = anchor.getBoundingClientRect().top;
      dialog.style.marginTop = '0';
      dialog.style.top = `${Math.max(16, Math.min(top - 40, window.innerHeight - dialog.offsetHeight - 16))}px`;
    }
  });
}

/** Copies text; says so in `status`. */
export async function copyText(text, status) {
  try {
    await navigator.clipboard.writeText(text);
    if (status) status.textContent = 'Copied.';
  } catch {
    if (status) status.textContent = 'Select the text and copy it (the browser refused).';
  }
}
