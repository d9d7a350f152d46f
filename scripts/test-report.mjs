/**
 * Names of the failed and skipped tests in each suite's machine-readable report, for the last lines
 * of `npm test`: CI keeps only the tail of the output, and a count alone ("1 failed") does not say
 * which test to look at.
 */

const MESSAGE_CHARS = 400;

/** The first lines of an error message, ANSI colours removed, cut to MESSAGE_CHARS. */
export function shortMessage(text) {
  if (!text) return '';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escape sequences from the reporters
  const plain = String(text).replace(/\u001b\[[0-9;]*m/g, '');
  const lines = plain
    .split('\n')
    .map((line) => line.trim())
    // Stack frames say where, the test's name already says which; the message is what helps.
    .filter((line) => line && !line.startsWith('at '))
    .slice(0, 4)
    .join(' | ');
  return lines.length > MESSAGE_CHARS ? `${lines.slice(0, MESSAGE_CHARS)}...` : lines;
}

/** Vitest's JSON report (jest's format): failed and skipped tests, and files that failed to load. */
export function vitestOutcomes(report) {
  const failed = [];
  const skipped = [];
  for (const file of report?.testResults ?? []) {
    const where = String(file.name ?? '').replace(/^.*?\/(test\/)/, '$1');
    for (const test of file.assertionResults ?? []) {
      const name = `${where} > ${test.fullName ?? test.title}`;
      if (test.status === 'failed') failed.push({ name, message: shortMessage((test.failureMessages ?? []).join('\n')) });
      else if (test.status === 'pending' || test.status === 'skipped' || test.status === 'todo') skipped.push({ name });
    }
    // A file whose suite threw before any test ran has no assertion results, only a message.
    if (file.status === 'failed' && !(file.assertionResults ?? []).some((t) => t.status === 'failed')) {
      failed.push({ name: `${where} (the file)`, message: shortMessage(file.message) });
    }
  }
  return { failed, skipped };
}

const decodeXml = (text) =>
  text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#10;/g, '\n')
    .replace(/&amp;/g, '&');

/** pytest's JUnit XML: failed (failure or error) and skipped test cases with their messages. */
export function pytestOutcomes(xml) {
  const failed = [];
  const skipped = [];
  for (const match of String(xml ?? '').matchAll(/<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const attrs = match[1] ?? '';
    const body = match[3] ?? '';
    const attr = (name) => decodeXml((attrs.match(new RegExp(`\\b${name}="([^"]*)"`)) ?? [])[1] ?? '');
    const name = `${attr('classname')}::${attr('name')}`;
    const outcome = body.match(/<(failure|error|skipped)\b([^>]*)/);
    if (!outcome) continue;
    const message = decodeXml((outcome[2]?.match(/\bmessage="([^"]*)"/) ?? [])[1] ?? '');
    if (outcome[1] === 'skipped') skipped.push({ name, message: shortMessage(message) });
    else failed.push({ name, message: shortMessage(message) });
  }
  return { failed, skipped };
}

/** Playwright's JSON report: unexpected (failed) and skipped tests; flaky ones count as passed. */
export function playwrightOutcomes(report) {
  const failed = [];
  const skipped = [];
  const visit = (suite, titles) => {
    for (const spec of suite.specs ?? []) {
      for (const test of spec.tests ?? []) {
        const name = `${spec.file ?? suite.file ?? ''}:${spec.line ?? ''} > ${[...titles, spec.title].filter(Boolean).join(' > ')}`;
        if (test.status === 'unexpected') {
          const last = (test.results ?? []).at(-1);
          failed.push({ name, message: shortMessage(last?.error?.message ?? last?.status ?? '') });
        } else if (test.status === 'skipped') skipped.push({ name });
      }
    }
    for (const child of suite.suites ?? []) visit(child, child.file ? titles : [...titles, child.title]);
  };
  for (const suite of report?.suites ?? []) visit(suite, []);
  for (const error of report?.errors ?? []) failed.push({ name: '(outside any test)', message: shortMessage(error.message) });
  return { failed, skipped };
}

/** The lines printed after the summary: each failed test with its message, then each skipped test. */
export function outcomeLines(bySuite) {
  const lines = [];
  for (const [suite, { failed }] of bySuite) {
    for (const test of failed) lines.push(`FAILED [${suite}] ${test.name}${test.message ? `: ${test.message}` : ''}`);
  }
  for (const [suite, { skipped }] of bySuite) {
    for (const test of skipped) lines.push(`skipped [${suite}] ${test.name}${test.message ? `: ${test.message}` : ''}`);
  }
  return lines;
}
