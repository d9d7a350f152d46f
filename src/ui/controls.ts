/**
 * The settings panel: mode switch, score threshold slider, "show boxes" and the class filter.
 * Changing any of them only re-filters the last raw result (see filter.ts); it never runs the model.
 */
import type { ClassCount } from './filter.js';
import { labelColor } from '../overlay/palette.js';
import type { DemoMode } from './params.js';

export interface ControlsElements {
  modeRadios: HTMLInputElement[];
  threshold: HTMLInputElement;
  thresholdValue: HTMLOutputElement;
  showBoxes: HTMLInputElement;
  classFilter: HTMLFieldSetElement;
  classList: HTMLElement;
}

export interface Controls {
  readonly threshold: number;
  readonly showBoxes: boolean;
  readonly hiddenClasses: ReadonlySet<string>;
  setMode(mode: DemoMode): void;
  /** Which modes can be chosen, with the reason shown for one that cannot. */
  setModeAvailability(mode: DemoMode, available: boolean, why: string): void;
  setClasses(counts: readonly ClassCount[] | null): void;
  /** Moves the slider to a model's suggested score, unless the visitor has moved it. */
  suggestThreshold(value: number): void;
  onChange(listener: () => void): void;
  onModeChange(listener: (mode: DemoMode) => void): void;
}

export function createControls(elements: ControlsElements): Controls {
  const hidden = new Set<string>();
  let changeListener: () => void = () => undefined;
  let modeListener: (mode: DemoMode) => void = () => undefined;
  let shownLabels = '';
  let thresholdTouched = false;

  const showThreshold = () => {
    elements.thresholdValue.value = Number(elements.threshold.value).toFixed(3);
  };
  showThreshold();
  elements.threshold.addEventListener('input', () => {
    thresholdTouched = true;
    showThreshold();
    changeListener();
  });
  // The slider's step is fine (0.001) so saturated scores can be told apart; arrows still move by 0.01.
  elements.threshold.addEventListener('keydown', (event) => {
    const direction = { ArrowUp: 1, ArrowRight: 1, ArrowDown: -1, ArrowLeft: -1 }[event.key];
    if (direction === undefined) return;
    event.preventDefault();
    thresholdTouched = true;
    const next = Number(elements.threshold.value) + direction * (event.shiftKey ? 0.001 : 0.01);
    elements.threshold.value = String(Math.min(1, Math.max(0, Math.round(next * 1000) / 1000)));
    showThreshold();
    changeListener();
  });
  elements.showBoxes.addEventListener('change', () => changeListener());
  for (const radio of elements.modeRadios) {
    radio.addEventListener('change', () => {
      if (radio.checked) modeListener(radio.value as DemoMode);
    });
  }

  function classRow(entry: ClassCount): HTMLLabelElement {
    const label = document.createElement('label');
    label.className = 'class-option';
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.checked = !hidden.has(entry.label);
    box.value = entry.label;
    box.addEventListener('change', () => {
      if (box.checked) hidden.delete(entry.label);
      else hidden.add(entry.label);
      changeListener();
    });
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = labelColor(entry.label).stroke;
    const name = document.createElement('span');
    name.textContent = entry.label;
    const count = document.createElement('span');
    count.className = 'count';
    count.dataset.label = entry.label;
    label.append(box, swatch, name, count);
    return label;
  }

  return {
    get threshold() {
      return Number(elements.threshold.value);
    },
    get showBoxes() {
      return elements.showBoxes.checked;
    },
    hiddenClasses: hidden,
    suggestThreshold(value) {
      if (thresholdTouched || Number(elements.threshold.value) === value) return;
      elements.threshold.value = String(value);
      showThreshold();
      changeListener();
    },
    setMode(mode) {
      for (const radio of elements.modeRadios) radio.checked = radio.value === mode;
      elements.classFilter.hidden = mode !== 'detect';
    },
    setModeAvailability(mode, available, why) {
      const radio = elements.modeRadios.find((r) => r.value === mode);
      if (radio === undefined) return;
      radio.disabled = !available;
      const label = radio.closest('label');
      if (label === null) return;
      label.title = available ? '' : why;
      label.querySelector('.unavailable')?.remove();
      // Say why right there: a greyed-out option alone leaves a newcomer guessing.
      if (!available)
        label.append(Object.assign(document.createElement('span'), { className: 'unavailable muted small', textContent: `(${why})` }));
    },
    setClasses(counts) {
      if (counts === null || counts.length === 0) {
        shownLabels = '';
        elements.classList.replaceChildren(
          Object.assign(document.createElement('p'), { className: 'muted', textContent: 'Classes appear here after a run.' }),
        );
        return;
      }
      // Rebuild only when the set of classes changes; otherwise just update counts (keeps focus).
      const labels = counts
        .map((c) => c.label)
        .sort()
        .join('\n');
      if (labels !== shownLabels) {
        shownLabels = labels;
        elements.classList.replaceChildren(...counts.map(classRow));
      }
      for (const entry of counts) {
        const count = elements.classList.querySelector<HTMLElement>(`.count[data-label="${CSS.escape(entry.label)}"]`);
        if (count !== null) count.textContent = String(entry.count);
        count?.closest('label')?.classList.toggle('empty', entry.count === 0);
      }
    },
    onChange(listener) {
      changeListener = listener;
    },
    onModeChange(listener) {
      modeListener = listener;
    },
  };
}
