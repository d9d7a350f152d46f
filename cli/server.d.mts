export const PACKAGE_ROOT: string;
export type PageMode = 'vite' | 'dist';
export function choosePageMode(root?: string, env?: Record<string, string | undefined>): PageMode;
export interface CliServer {
  origin: string;
  pageMode: PageMode;
  pageUrl: string;
  modelUrl: string | undefined;
  imageUrls: string[];
  close(): Promise<void>;
}
export function startCliServer(options: {
  modelDir?: string;
  images: string[];
  port?: number;
  pageMode?: PageMode;
  root?: string;
}): Promise<CliServer>;
