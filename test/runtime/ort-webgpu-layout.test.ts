/**
 * Which ORT WebGPU layout each graph of a package gets (preferredLayoutFor): NCHW only for the CenterNet
 * MobileNetV3 graphs (with or without the v2b neck) whose inputs all have fixed shapes (measured faster there, bench/MODELS.md "Session
 * choices"); NHWC (ORT's default) for other backbones and for graphs with a symbolic input dim, where ORT
 * 1.30's NCHW ReduceMean fails.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseManifest, type Manifest } from '../../src/package/manifest';
import { preferredLayoutFor } from '../../src/runtime/ort-webgpu';

const manifestOf = (dir: string): Manifest => parseManifest(JSON.parse(readFileSync(`${dir}/manifest.json`, 'utf8')));
const layouts = (manifest: Manifest) => Object.fromEntries(manifest.graphs.map((g) => [g.name, preferredLayoutFor(manifest, g.name)]));

describe('preferredLayoutFor', () => {
  it('shipped detector (v3: backbone "ssdlite-mobilenetv2", SSDLite and its Fast NMS in encoder_input): NHWC, ORT\'s default', () => {
    // Only the CenterNet graphs were measured faster in NCHW; MobileNetV2 keeps ORT's default until measured.
    const manifest = manifestOf('public/models/detector');
    expect(manifest.architecture.backbone).toBe('ssdlite-mobilenetv2');
    expect(new Set(Object.values(layouts(manifest)))).toEqual(new Set(['NHWC']));
  });

  it('a v2b package (backbone "centernet-mobilenetv3-neck", fixed inputs): NCHW', () => {
    // Measured faster in NCHW like the plain MobileNetV3 taps (encoder_input warm 18.0 -> 14.5 s on SwiftShader).
    const v2b = { ...manifestOf('public/models/detector') };
    v2b.architecture = { ...v2b.architecture, backbone: 'centernet-mobilenetv3-neck' };
    expect(new Set(Object.values(layouts(v2b)))).toEqual(new Set(['NCHW']));
  });

  it('shipped one-shot: the image graphs NCHW, the graphs fed the dynamic patch count NHWC', () => {
    const byGraph = layouts(manifestOf('public/models/oneshot'));
    expect(byGraph.encoder_input).toBe('NCHW');
    expect(byGraph.patch_queries).toBe('NHWC');
    expect(byGraph.patch_head).toBe('NHWC');
  });

  it('another backbone (the tiny test package) and an unknown graph: NHWC', () => {
    const tiny = manifestOf('test/fixtures/packages/tiny');
    expect(new Set(Object.values(layouts(tiny)))).toEqual(new Set(['NHWC']));
    expect(preferredLayoutFor(manifestOf('public/models/detector'), 'no-such-graph')).toBe('NHWC');
  });
});
