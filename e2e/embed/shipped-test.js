// Records what the elements report, for e2e/embed-shipped.spec.ts (external file: the CSP forbids inline scripts).
window.__embed = { events: [], errors: [], violations: [] };
document.addEventListener('securitypolicyviolation', (event) => {
  window.__embed.violations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
for (const element of document.querySelectorAll('web-detr')) {
  element.addEventListener('detections', (event) => {
    const { detections, patches, backend, timings, imageSize } = event.detail;
    window.__embed.events.push({
      id: element.id,
      detections,
      patches: patches ?? null,
      backend: backend.name,
      backendReason: backend.reason,
      timings,
      imageSize,
    });
  });
  element.addEventListener('webdetr-error', (event) => window.__embed.errors.push({ id: element.id, ...event.detail }));
}
