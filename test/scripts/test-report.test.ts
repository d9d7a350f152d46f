import { describe, expect, it } from 'vitest';
import { outcomeLines, playwrightOutcomes, pytestOutcomes, shortMessage, vitestOutcomes } from '../../scripts/test-report.mjs';

describe('npm test: the failed and skipped tests named after the summary', () => {
  it('vitest: failed tests with their message (no stack frames, no colours), skipped ones, and a file that failed to load', () => {
    const report = {
      testResults: [
        {
          name: '/ci/main/test/kernels/a.test.ts',
          status: 'failed',
          assertionResults: [
            {
              fullName: 'kernel a matches',
              status: 'failed',
              failureMessages: ['\u001b[31mAssertionError: expected 2 to be 1\u001b[39m\n    at a.test.ts:3:4'],
            },
            { fullName: 'kernel a builds', status: 'pending', failureMessages: [] },
            { fullName: 'kernel a runs', status: 'passed', failureMessages: [] },
          ],
        },
        { name: '/ci/main/test/b.test.ts', status: 'failed', message: 'Error: Cannot find module x', assertionResults: [] },
      ],
    };
    const outcomes = vitestOutcomes(report);
    expect(outcomes.failed).toEqual([
      { name: 'test/kernels/a.test.ts > kernel a matches', message: 'AssertionError: expected 2 to be 1' },
      { name: 'test/b.test.ts (the file)', message: 'Error: Cannot find module x' },
    ]);
    expect(outcomes.skipped).toEqual([{ name: 'test/kernels/a.test.ts > kernel a builds' }]);
  });

  it('pytest JUnit XML: failures, errors and skips with their decoded messages', () => {
    const xml = [
      '<testsuites><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="4">',
      '<testcase classname="tools.tests.test_a" name="test_fail" time="0.1"><failure message="AssertionError: one &amp; &lt;two&gt;">trace</failure></testcase>',
      '<testcase classname="tools.tests.test_a" name="test_error" time="0.1"><error message="fixture &quot;x&quot; not found">trace</error></testcase>',
      '<testcase classname="tools.tests.test_a" name="test_skip" time="0"><skipped type="pytest.skip" message="needs the fetched teacher">s</skipped></testcase>',
      '<testcase classname="tools.tests.test_a" name="test_ok" time="0.1" />',
      '</testsuite></testsuites>',
    ].join('');
    const outcomes = pytestOutcomes(xml);
    expect(outcomes.failed.map((t) => [t.name, t.message])).toEqual([
      ['tools.tests.test_a::test_fail', 'AssertionError: one & <two>'],
      ['tools.tests.test_a::test_error', 'fixture "x" not found'],
    ]);
    expect(outcomes.skipped).toEqual([{ name: 'tools.tests.test_a::test_skip', message: 'needs the fetched teacher' }]);
  });

  it('playwright JSON: unexpected tests (last retry) and skipped ones; flaky ones are not failures', () => {
    const report = {
      suites: [
        {
          title: 'demo.spec.ts',
          file: 'demo.spec.ts',
          specs: [
            {
              title: 'drags',
              file: 'demo.spec.ts',
              line: 10,
              tests: [{ status: 'unexpected', results: [{ status: 'failed', error: { message: 'Timeout 30000ms exceeded' } }] }],
            },
            { title: 'retries', file: 'demo.spec.ts', line: 20, tests: [{ status: 'flaky', results: [] }] },
          ],
          suites: [
            {
              title: 'opt-in',
              specs: [{ title: 'full size', file: 'demo.spec.ts', line: 30, tests: [{ status: 'skipped', results: [] }] }],
            },
          ],
        },
      ],
      errors: [{ message: 'global setup failed' }],
    };
    const outcomes = playwrightOutcomes(report);
    expect(outcomes.failed).toEqual([
      { name: 'demo.spec.ts:10 > drags', message: 'Timeout 30000ms exceeded' },
      { name: '(outside any test)', message: 'global setup failed' },
    ]);
    expect(outcomes.skipped).toEqual([{ name: 'demo.spec.ts:30 > opt-in > full size' }]);
  });

  it('prints every failure before every skip, and cuts long messages', () => {
    const lines = outcomeLines([
      ['unit', { failed: [{ name: 'a', message: 'boom' }], skipped: [{ name: 'b' }] }],
      ['python', { failed: [{ name: 'c', message: '' }], skipped: [] }],
    ]);
    expect(lines).toEqual(['FAILED [unit] a: boom', 'FAILED [python] c', 'skipped [unit] b']);
    expect(shortMessage('x'.repeat(1000)).length).toBeLessThan(420);
    expect(shortMessage(undefined)).toBe('');
  });
});
