export const MAX_LINE: number;
export function longLines(text: string, max?: number): { line: number; length: number }[];
export function reportLongLines(dir?: string, max?: number): string[];
