// Records what the elements report and every status line they show, for e2e/embed-loading.spec.ts.
window.__embed = { events: [], errors: [], statuses: {} };
for (const element of document.querySelectorAll('web-detr')) {
  const texts = (window.__embed.statuses[element.id] = []);
  const watch = () => {
    const line = element.shadowRoot?.querySelector('[part="status"]');
    if (!line) return void requestAnimationFrame(watch);
    new MutationObserver(() => texts.push(line.textContent ?? '')).observe(line, { childList: true, characterData: true, subtree: true });
  };
  watch();
  element.addEventListener('detections', (event) => window.__embed.events.push({ id: element.id, count: event.detail.detections.length }));
  element.addEventListener('webdetr-error', (event) => window.__embed.errors.push({ id: element.id, ...event.detail }));
}
