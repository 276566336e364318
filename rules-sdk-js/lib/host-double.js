// verdict:rules/host@1.0.0 for rules run natively under Node (fixture tests): the log lines
// a run wrote, kept so a test can look at them.
export const lines = [];

export function log(level, message) {
  lines.push({ level, message });
}

export default { log };
