// Records what the elements report, for e2e/embed-csp.spec.ts (external file: the CSP forbids inline scripts).
window.__embed = { events: [], errors: [], violations: [] };
document.addEventListener('securitypolicyviolation', (event) => {
  window.__embed.violations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
for (const element of document.querySelectorAll('web-detr')) {
  element.addEventListener('detections', (event) => {
    window.__embed.events.push({
      id: element.id,
      count: event.detail.detections.length,
      backend: event.detail.backend.name,
      top: event.detail.detections[0] ?? null,
    });
  });
  element.addEventListener('webdetr-error', (event) => window.__embed.errors.push({ id: element.id, ...event.detail }));
}
