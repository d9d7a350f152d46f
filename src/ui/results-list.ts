/**
 * The list beside the picture: one row per drawn box (or a heading per query patch in one-shot
 * mode). Hovering or focusing a row highlights its box; hovering a box highlights its row.
 */
import type { OverlayColor } from '../overlay/palette.js';

export interface ListEntry {
  /** Index of the box this row stands for in the drawn boxes. */
  boxIndex: number;
  color: OverlayColor;
  title: string;
  detail: string;
  heading?: boolean;
}

export interface ResultsList {
  render(entries: readonly ListEntry[], emptyText: string): void;
  /** `reveal` scrolls the row into view inside the list (when the highlight came from the picture). */
  setHighlight(boxIndex: number | null, reveal?: boolean): void;
  onHover(listener: (boxIndex: number | null) => void): void;
}

export function createResultsList(list: HTMLOListElement, summary: HTMLElement): ResultsList {
  let hoverListener: (boxIndex: number | null) => void = () => undefined;
  let rows: HTMLLIElement[] = [];

  function row(entry: ListEntry): HTMLLIElement {
    const item = document.createElement('li');
    item.className = entry.heading ? 'result heading' : 'result';
    item.tabIndex = 0;
    item.dataset.box = String(entry.boxIndex);
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = entry.color.stroke;
    if (entry.heading) swatch.classList.add('dashed');
    const title = document.createElement('span');
    title.className = 'title';
    title.textContent = entry.title;
    const detail = document.createElement('span');
    detail.className = 'detail';
    detail.textContent = entry.detail;
    item.append(swatch, title, detail);
    const enter = () => hoverListener(entry.boxIndex);
    const leave = () => hoverListener(null);
    item.addEventListener('pointerenter', enter);
    item.addEventListener('pointerleave', leave);
    item.addEventListener('focus', enter);
    item.addEventListener('blur', leave);
    return item;
  }

  // Rows are rebuilt on every render, so a row may vanish under the pointer without a leave event:
  // leaving the list as a whole also ends the highlight.
  list.addEventListener('pointerleave', () => hoverListener(null));
  list.addEventListener('focusout', (event) => {
    if (!list.contains(event.relatedTarget as Node | null)) hoverListener(null);
  });

  return {
    render(entries, emptyText) {
      rows = entries.map(row);
      list.replaceChildren(...rows);
      const results = entries.filter((e) => !e.heading).length;
      summary.textContent = entries.length === 0 ? emptyText : `${results} shown`;
    },
    setHighlight(boxIndex, reveal = false) {
      for (const item of rows) {
        const on = boxIndex !== null && item.dataset.box === String(boxIndex);
        item.classList.toggle('highlight', on);
        if (on && reveal) list.scrollTop = Math.max(0, item.offsetTop - list.clientHeight / 2);
      }
    },
    onHover(listener) {
      hoverListener = listener;
    },
  };
}
