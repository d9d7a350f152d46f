export interface TestOutcome {
  name: string;
  message?: string;
}
export interface SuiteOutcomes {
  failed: TestOutcome[];
  skipped: TestOutcome[];
}
export function shortMessage(text: unknown): string;
export function vitestOutcomes(report: unknown): SuiteOutcomes;
export function pytestOutcomes(xml: string): SuiteOutcomes;
export function playwrightOutcomes(report: unknown): SuiteOutcomes;
export function outcomeLines(bySuite: ReadonlyArray<readonly [string, SuiteOutcomes]>): string[];
