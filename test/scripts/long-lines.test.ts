import { describe, expect, it } from 'vitest';
import { longLines, MAX_LINE, reportLongLines } from '../../scripts/long-lines.mjs';

describe('lint lane: the src/ line-width check', () => {
  it('reports each line over the limit with its 1-based number and length, not the ones at it', () => {
    const text = ['short', 'x'.repeat(MAX_LINE), 'y'.repeat(MAX_LINE + 1), '', 'z'.repeat(200)].join('\n');
    expect(longLines(text)).toEqual([
      { line: 3, length: MAX_LINE + 1 },
      { line: 5, length: 200 },
    ]);
    expect(longLines('ab\r\nabcd', 3)).toEqual([{ line: 2, length: 4 }]);
  });

  it('names file:line for a long line in a tracked file, and src/ has none', () => {
    expect(reportLongLines('scripts/lint.mjs', 20)).toContainEqual(
      expect.stringMatching(/^scripts\/lint\.mjs:\d+: \d+ characters \(max 20\)$/),
    );
    expect(reportLongLines('src')).toEqual([]);
  });
});
