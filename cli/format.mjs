/**
 * Human-readable output of a CLI run: the header once the model is loaded, one block per image as it
 * finishes, progress lines. (`--json` prints the response as is; `--jsonl` one outcome per line.)
 */

const pad = (text, width) => String(text).padEnd(width);
const padLeft = (text, width) => String(text).padStart(width);
const fixed = (value, digits) => Number(value).toFixed(digits);

/**
 * The engine's words for the JS API (`backend: "webgpu"`) said as this command line's flags, in
 * backend reasons and error messages: a CLI user passes `--backend webgpu`, not an option object.
 */
export function cliWords(text) {
  return String(text)
    .replace(/\bpass backend: "(\w+)"/g, 'pass --backend $1')
    .replace(/\(backend: "(\w+)"\)/g, '(--backend $1)')
    .replace(/\bbackend "(\w+)" was asked for/g, '--backend $1 was asked for');
}

/**
 * Rows of detections as an aligned table, or a line saying none reached the threshold, with the
 * threshold and the best score below it.
 * @param {{ threshold?: number, best?: { score: number, label: string } }} [none]
 */
export function detectionTable(detections, indent = '  ', none = {}) {
  if (detections.length === 0) {
    const at = none.threshold === undefined ? 'the threshold' : `the threshold ${fixed(none.threshold, 2)}`;
    const best = none.best ? `; the best score was ${fixed(none.best.score, 3)} (${none.best.label})` : '; the model gave no candidates';
    return [`${indent}(no detections at or above ${at}${best})`];
  }
  const labelWidth = Math.max(5, ...detections.map((d) => d.label.length));
  const lines = [
    `${indent}${padLeft('#', 3)}  ${pad('label', labelWidth)}  ${padLeft('score', 6)}  ${padLeft('x', 8)}  ${padLeft('y', 8)}  ${padLeft('width', 8)}  ${padLeft('height', 8)}`,
  ];
  detections.forEach((d, i) => {
    const { x, y, width, height } = d.box;
    lines.push(
      `${indent}${padLeft(i + 1, 3)}  ${pad(d.label, labelWidth)}  ${padLeft(fixed(d.score, 3), 6)}  ${padLeft(fixed(x, 1), 8)}  ${padLeft(fixed(y, 1), 8)}  ${padLeft(fixed(width, 1), 8)}  ${padLeft(fixed(height, 1), 8)}`,
    );
  });
  return lines;
}

/** The header: model, backend (what runs where, and why), threshold. */
export function formatHeader(loaded) {
  const m = loaded.model;
  const lines = [
    `model: ${m.family} ${m.variant}, input ${m.inputSize.width}x${m.inputSize.height}, ${m.classNames.length} classes`,
    `backend: ${loaded.backend.name} (${loaded.backend.description}; ${cliWords(loaded.backend.reason)})`,
  ];
  if (loaded.threshold !== undefined) {
    const suggested = loaded.threshold === m.scoreThreshold ? " (the model's suggested score)" : '';
    lines.push(`threshold: ${fixed(loaded.threshold, 2)}${suggested}; boxes are clamped to the picture`);
  }
  return lines.join('\n');
}

/** One image's block (a blank line first): its detections, or the typed error that stopped it. */
export function formatResult(outcome, threshold) {
  if (outcome.error) {
    const { error } = outcome;
    const step = error.stage === 'image' ? 'reading' : 'detecting';
    return ['', `${outcome.image}: ${step} failed: ${error.name} [${error.code}]: ${cliWords(error.message)}`].join('\n');
  }
  const { width, height } = outcome.imageSize;
  const lines = ['', `${outcome.image} (${width}x${height}, ${outcome.backend.name}, ${fixed(outcome.timings.total, 0)} ms)`];
  if (outcome.patches) {
    outcome.patches.forEach((group, k) => {
      const p = group.patch;
      const views = group.views > 1 ? ` (zoomed search: ${group.views} views)` : '';
      lines.push(`  patch ${k + 1}: ${fixed(p.x, 1)},${fixed(p.y, 1)},${fixed(p.x + p.width, 1)},${fixed(p.y + p.height, 1)}${views}`);
      lines.push(...detectionTable(group.detections, '    ', { threshold, best: group.best }));
    });
  } else {
    lines.push(...detectionTable(outcome.detections ?? [], '  ', { threshold, best: outcome.best }));
  }
  return lines.join('\n');
}

/** The whole table output of a run: the header (whenever the model loaded) and every image's block. */
export function formatTable(response) {
  const lines = [];
  if (response.model && response.backend) lines.push(formatHeader(response));
  for (const outcome of response.results) lines.push(formatResult(outcome, response.threshold));
  return lines.join('\n');
}

/**
 * One stderr line per progress event worth reporting (per-file start/finish, ready). A package load
 * numbers its files ("[2/8]") and names the whole download once, on its first file.
 */
export function progressLine(event) {
  const mb = (bytes) => (bytes < 1e6 ? `${(bytes / 1e3).toFixed(1)} kB` : `${(bytes / 1e6).toFixed(1)} MB`);
  switch (event.status) {
    case 'initiate': {
      const line = `loading ${event.file} (${mb(event.total)})`;
      if (event.fileIndex === undefined || event.fileCount === undefined) return line;
      const whole = event.fileIndex === 0 && event.totalBytes !== undefined ? ` of ${mb(event.totalBytes)} in all` : '';
      return `[${event.fileIndex + 1}/${event.fileCount}] ${line}${whole}`;
    }
    case 'done':
      return `loaded ${event.file}${event.fromCache ? ' from cache' : ''}`;
    case 'ready':
      return `model ready: ${event.files} file${event.files === 1 ? '' : 's'}, ${mb(event.totalBytes)}`;
    // After the download: what the load waits for (the engine reports these steps where it has them).
    case 'preparing': {
      const steps = {
        runtime: "starting onnxruntime's WebAssembly",
        sessions: `creating ${event.graphs ?? 'the'} onnxruntime session${event.graphs === 1 ? '' : 's'}`,
        shaders: 'compiling the WebGPU kernels',
      };
      return `preparing: ${steps[event.step] ?? event.step}`;
    }
    case 'prepared': {
      const parts = Object.entries(event.ms ?? {}).map(([step, ms]) => `${step} ${(ms / 1000).toFixed(1)} s`);
      return `model prepared${parts.length > 0 ? ` (${parts.join(', ')})` : ''}`;
    }
    default:
      return undefined;
  }
}

/** A live "file  loaded/total (pct)" line for terminals (overwritten with \r). */
export function progressBar(event) {
  if (event.status !== 'progress') return undefined;
  const pct = event.total > 0 ? Math.floor((100 * event.loaded) / event.total) : 100;
  return `  ${event.file} ${(event.loaded / 1e6).toFixed(1)}/${(event.total / 1e6).toFixed(1)} MB (${pct}%)`;
}

/** The batch's live line for terminals: images done, failures, the mean time per image and what is left. */
export function batchProgress(done, total, failed, elapsedMs, current) {
  const mean = done > 0 ? elapsedMs / done : 0;
  const left = Math.max(0, Math.round((mean * (total - done)) / 1000));
  const eta = done > 0 && done < total ? `, ${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')} left` : '';
  const failures = failed > 0 ? `, ${failed} failed` : '';
  return `[${done}/${total}] ${current ?? ''}${done > 0 ? ` (${(mean / 1000).toFixed(2)} s/image${eta}${failures})` : ''}`;
}
