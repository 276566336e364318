// verdict:rules/host for rules run natively under Node (fixture tests): the log lines a run
// wrote, kept so a test can look at them, and find-phrases computed here as the host computes
// it (rules-sdk/src/text.rs; both are checked against rules-sdk/tests/find-phrases.json).
export const lines = [];

export function log(level, message) {
  lines.push({ level, message });
}

const WORD = /[\p{Alphabetic}\p{N}]/u;
const SPACE = /\s/u;
const isWord = (c) => WORD.test(c);

// Lowercased per character, whitespace runs as one space, with each position's original
// character index and the words that ended before it.
function normalise(text) {
  const chars = [];
  const origin = [];
  let i = 0;
  let inSpace = false;
  for (const c of text) {
    if (SPACE.test(c)) {
      if (!inSpace) {
        chars.push(" ");
        origin.push(i);
      }
      inSpace = true;
    } else {
      inSpace = false;
      for (const l of c.toLowerCase()) {
        chars.push(l);
        origin.push(i);
      }
    }
    i += 1;
  }
  const wordsBefore = [];
  let words = 0;
  let inWord = false;
  for (const c of chars) {
    const w = isWord(c);
    if (inWord && !w) words += 1;
    inWord = w;
    wordsBefore.push(words);
  }
  return { chars, origin, wordsBefore };
}

export const MAX_PHRASES = 1000;
export const MAX_MATCHES = 10000;

export function findPhrases(texts, phrases) {
  if (phrases.length > MAX_PHRASES) {
    throw new Error(`find-phrases: ${phrases.length} phrases, at most ${MAX_PHRASES}`);
  }
  const wanted = phrases.map((p) => normalise(p.trim()).chars);
  const found = [];
  texts.forEach((text, t) => {
    const n = normalise(text);
    wanted.forEach((phrase, p) => {
      if (phrase.length === 0 || phrase.length > n.chars.length) return;
      const edgeBefore = isWord(phrase[0]);
      const edgeAfter = isWord(phrase[phrase.length - 1]);
      for (let at = 0; at + phrase.length <= n.chars.length; at++) {
        let same = true;
        for (let k = 0; k < phrase.length && same; k++) same = n.chars[at + k] === phrase[k];
        if (!same) continue;
        const end = at + phrase.length;
        if (edgeBefore && at > 0 && isWord(n.chars[at - 1])) continue;
        if (edgeAfter && end < n.chars.length && isWord(n.chars[end])) continue;
        if (found.length === MAX_MATCHES) {
          throw new Error(`find-phrases: more than ${MAX_MATCHES} matches (search fewer texts or longer phrases)`);
        }
        found.push({ text: t, offset: n.origin[at], phrase: p, word: n.wordsBefore[at] });
      }
    });
  });
  const key = (m) => [m.text, m.offset, m.phrase, m.word];
  found.sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    for (let k = 0; k < 4; k++) if (x[k] !== y[k]) return x[k] - y[k];
    return 0;
  });
  return found;
}

export default { log, findPhrases };
