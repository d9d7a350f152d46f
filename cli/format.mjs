/** Human-readable output of a CLI run (the JSON form is the page's response, printed as is). */

const pad = (text, width) => String(text).padEnd(width);
const padLeft = (text, width) => String(text).padStart(width);
const fixed = (value, digits) => Number(value).toFixed(digits);

/** Rows of detections as an aligned table, or a "(none)" line. */
export function detectionTable(detections, indent = '  ') {
  if (detections.length === 0) return [`${indent}(no detections above the threshold)`];
  const labelWidth = Math.max(5, ...detections.map((d) => d.label.length));
  const lines = [`${indent}${padLeft('#', 3)}  ${pad('label', labelWidth)}  ${padLeft('score', 6)}  ${padLeft('x', 8)}  ${padLeft('y', 8)}  ${padLeft('width', 8)}  ${padLeft('height', 8)}`];
  detections.forEach((d, i) => {
    const { x, y, width, height } = d.box;
    lines.push(
      `${indent}${padLeft(i + 1, 3)}  ${pad(d.label, labelWidth)}  ${padLeft(fixed(d.score, 3), 6)}  ${padLeft(fixed(x, 1), 8)}  ${padLeft(fixed(y, 1), 8)}  ${padLeft(fixed(width, 1), 8)}  ${padLeft(fixed(height, 1), 8)}`,
    );
  });
  return lines;
}

/** The whole table output for a successful (or partly successful) run. */
export function formatTable(response) {
  const lines = [];
  if (response.model && response.backend) {
    const m = response.model;
    lines.push(`model: ${m.family} ${m.variant}, input ${m.inputSize.width}x${m.inputSize.height}, ${m.classNames.length} classes`);
    lines.push(`backend: ${response.backend.name} (${response.backend.description}; ${response.backend.reason})`);
  }
  for (const result of response.results) {
    const { width, height } = result.imageSize;
    lines.push('', `${result.image} (${width}x${height}, ${result.backend.name}, ${fixed(result.timings.total, 0)} ms)`);
    if (result.patches) {
      result.patches.forEach((group, k) => {
        const p = group.patch;
        const views = group.views > 1 ? ` (zoomed search: ${group.views} views)` : '';
        lines.push(`  patch ${k + 1}: ${fixed(p.x, 1)},${fixed(p.y, 1)},${fixed(p.x + p.width, 1)},${fixed(p.y + p.height, 1)}${views}`);
        lines.push(...detectionTable(group.detections, '    '));
      });
    } else {
      lines.push(...detectionTable(result.detections ?? []));
    }
  }
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
