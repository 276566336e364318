// Appends a `producers` custom section (the tool-conventions format) to a component, so the
// host can tell which language and toolchain built a rule. Custom sections may appear
// between any sections; componentize-qjs writes none at the outermost level.

function leb(n) {
  const out = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function name(s) {
  const bytes = [...new TextEncoder().encode(s)];
  return [...leb(bytes.length), ...bytes];
}

/** `fields`: { language: [[name, version]], "processed-by": [...], sdk: [...] }. */
export function addProducers(component, fields) {
  const entries = Object.entries(fields);
  const body = [...leb(entries.length)];
  for (const [field, values] of entries) {
    body.push(...name(field), ...leb(values.length));
    for (const [n, v] of values) body.push(...name(n), ...name(v));
  }
  const payload = [...name("producers"), ...body];
  const section = Uint8Array.from([0, ...leb(payload.length), ...payload]);
  const out = new Uint8Array(component.length + section.length);
  out.set(component, 0);
  out.set(section, component.length);
  return out;
}
