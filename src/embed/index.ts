/**
 * The embed entry: importing it registers <web-detr> (also the script-tag bundle's entry). The
 * element's API and the whole library are re-exported for module users.
 */
import { defineWebDetrElement } from './web-detr-element.js';

export { WebDetrElement, defineWebDetrElement } from './web-detr-element.js';
export type { DetectionsEventDetail } from './web-detr-element.js';
export * from '../index.js';

defineWebDetrElement();
