// Fragment clipping for the compare and section tools, as deck.gl layer extensions that discard
// pixels in the fragment shader (so they work for extruded buildings, pipes, BIM glTF and 3D Tiles
// alike, whatever the camera's pitch and bearing):
//   SwipeExtension   keeps a layer's pixels on one side of a vertical screen line (卷帘);
//   SectionExtension keeps a layer's pixels behind a plane in space (剖切).
// The line and the plane live in `clipState`, read at draw time: dragging the swipe handle or the
// section slider only redraws, it does not rebuild layers or recompile shaders.
import { LayerExtension } from '@deck.gl/core';

/** What the extensions read when drawing: swipe x (0..1 of the canvas width) and the section plane. */
export const clipState = {
  swipe: 0.5,
  // {point: [lon, lat, z], normal: [east, north, up]} in metres; pixels on the normal's side are cut
  section: null,
};

const swipeModule = {
  name: 'swipe',
  fs: /* glsl */ `
layout(std140) uniform swipeUniforms {
  float x;
  float side;
} swipe;
`,
  uniformTypes: { x: 'f32', side: 'f32' },
};

/** Keep the pixels left (`side: 'a'`) or right (`side: 'b'`) of clipState.swipe. */
export class SwipeExtension extends LayerExtension {
  constructor({ side = 'a' } = {}) {
    super({ side });
  }

  getShaders() {
    return {
      modules: [swipeModule],
      inject: {
        'fs:DECKGL_FILTER_COLOR': /* glsl */ `
  if ((gl_FragCoord.x - swipe.x) * swipe.side < 0.0) discard;
`,
      },
    };
  }

  // deck.gl calls an extension's methods on the layer (`this`), with the extension as the last argument
  draw(params, extension) {
    const { device } = this.context;
    const width = device.canvasContext?.getDrawingBufferSize?.()[0] ?? this.context.gl?.drawingBufferWidth ?? 0;
    const side = extension.opts.side === 'b' ? 1 : -1;
    this.setShaderModuleProps({ swipe: { x: clipState.swipe * width, side } });
  }
}
SwipeExtension.extensionName = 'SwipeExtension';

const sectionModule = {
  name: 'section',
  fs: /* glsl */ `
layout(std140) uniform sectionUniforms {
  vec4 point;
  vec4 normal;
} section;
`,
  uniformTypes: { point: 'vec4<f32>', normal: 'vec4<f32>' },
};

/** Cut away the pixels on the normal's side of clipState.section (nothing is cut without a plane). */
export class SectionExtension extends LayerExtension {
  getShaders() {
    return {
      modules: [sectionModule],
      inject: {
        'vs:#decl': 'out vec3 section_position;',
        'vs:DECKGL_FILTER_GL_POSITION': '  section_position = geometry.position.xyz;',
        'fs:#decl': 'in vec3 section_position;',
        'fs:DECKGL_FILTER_COLOR': /* glsl */ `
  if (section.normal.w > 0.5 && dot(section_position - section.point.xyz, section.normal.xyz) > 0.0) discard;
`,
      },
    };
  }

  draw() {
    const plane = clipState.section;
    if (!plane) {
      this.setShaderModuleProps({ section: { point: [0, 0, 0, 0], normal: [0, 0, 0, 0] } });
      return;
    }
    // the plane in this layer's own common space: its point, and a point one metre along the normal
    const [lon, lat, z] = plane.point;
    const [e, n, u] = plane.normal;
    const metresPerDegree = 111320;
    const ahead = [lon + e / (metresPerDegree * Math.cos((lat * Math.PI) / 180)), lat + n / metresPerDegree, z + u];
    const opts = { fromCoordinateSystem: 'lnglat', modelMatrix: null };
    const p0 = this.projectPosition([lon, lat, z], opts);
    const p1 = this.projectPosition(ahead, opts);
    this.setShaderModuleProps({
      section: { point: [p0[0], p0[1], p0[2], 1], normal: [p1[0] - p0[0], p1[1] - p0[1], p1[2] - p0[2], 1] },
    });
  }
}
SectionExtension.extensionName = 'SectionExtension';

/** The horizontal plane at `z` metres (everything above is cut: a plan view through every storey). */
export function horizontalPlane(lon, lat, z) {
  return { point: [lon, lat, z], normal: [0, 0, 1] };
}

/**
 * A vertical plane facing the camera, `offset` metres beyond the view's centre along the viewing
 * direction: what lies between the camera and the plane is cut (a cross-section).
 */
export function verticalPlane(lon, lat, bearing, offset) {
  const b = (bearing * Math.PI) / 180;
  const toward = [-Math.sin(b), -Math.cos(b)]; // from the centre back toward the camera (east, north)
  const metresPerDegree = 111320;
  const point = [lon - (toward[0] * offset) / (metresPerDegree * Math.cos((lat * Math.PI) / 180)),
    lat - (toward[1] * offset) / metresPerDegree, 0];
  return { point, normal: [toward[0], toward[1], 0] };
}
