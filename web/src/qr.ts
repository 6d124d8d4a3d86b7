// A ticket's code as a QR code on a canvas: lean-qr (its "nano" build, ~2 KB gzipped)
// encodes, this draws. Error correction M (15% of the code may be unreadable: a scratched
// phone screen, a glare) or more where the version has room; a code of the API's longest
// (400 characters) is version 15, 77 modules a side.

import { correction, generate } from 'lean-qr/nano';

/** Pixels per module: the canvas is readable as drawn, and CSS only shrinks it. */
const SCALE = 4;
/** The quiet zone the standard asks for around the code, in modules. */
const QUIET = 4;

export function qrCanvas(text: string): HTMLCanvasElement {
  const code = generate(text, { minCorrectionLevel: correction.M });
  const side = (code.size + 2 * QUIET) * SCALE;
  const canvas = document.createElement('canvas');
  canvas.width = side;
  canvas.height = side;
  canvas.className = 'qr';
  canvas.dataset.modules = String(code.size);
  const g = canvas.getContext('2d');
  if (!g) return canvas;
  g.fillStyle = '#fff';
  g.fillRect(0, 0, side, side);
  g.fillStyle = '#000';
  for (let y = 0; y < code.size; y++) {
    for (let x = 0; x < code.size; x++) {
      if (code.get(x, y)) g.fillRect((x + QUIET) * SCALE, (y + QUIET) * SCALE, SCALE, SCALE);
    }
  }
  return canvas;
}
