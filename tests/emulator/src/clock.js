'use strict';
// Emulated clock. time_scale X = X emulated seconds per real second, so with
// X = 60 a per-minute budget refills every real second. Tests may also jump
// the clock forward (POST /_emulator/advance).
class Clock {
  constructor(scale = 1, startMs = Date.now()) {
    this.scale = scale;
    this.realBase = Date.now();
    this.emuBase = startMs;
  }
  now() { return this.emuBase + (Date.now() - this.realBase) * this.scale; }
  setScale(scale) {
    const n = this.now();
    this.realBase = Date.now();
    this.emuBase = n;
    this.scale = scale > 0 ? scale : 1;
  }
  advance(seconds) { this.emuBase += seconds * 1000; }
  // Emulated milliseconds -> real seconds a client must wait (integer, >= 1
  // when anything is left at all).
  realSeconds(emuMs) {
    if (emuMs <= 0) return 0;
    return Math.max(1, Math.ceil(emuMs / 1000 / this.scale));
  }
  realMs(emuMs) { return emuMs / this.scale; }
}
module.exports = { Clock };
