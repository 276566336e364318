// Whether a Confluence page is evidence for a ticket (no host import: testable natively).

// A key inside a longer word is another key (`SEC-1` is not in `SEC-12` or `APPSEC-1`);
// slugs count (`risk-sec-1`, `SEC-1-notes`).
function namesKey(text, key) {
  const upper = text.toUpperCase();
  const outside = (c) => c === undefined || c === "-" || !/[A-Z0-9_]/.test(c);
  for (let i = upper.indexOf(key); i !== -1; i = upper.indexOf(key, i + 1)) {
    if (outside(upper[i - 1]) && outside(upper[i + key.length])) return true;
  }
  return false;
}

export function references(page, ticket) {
  const key = ticket.key.trim().toUpperCase();
  if (key === "") return false;
  return (
    namesKey(page.title, key) ||
    page.labels.some((l) => namesKey(l, key)) ||
    namesKey(page.excerpt, key)
  );
}
