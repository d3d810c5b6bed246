// @ts-check
// V8 flags for the process that runs the hub, used by every launcher (`npm start`, the benchmarks). They must be on
// the command line: V8 sizes its heap at startup and ignores later changes.
//
// --max-semi-space-size=32 (MiB; Node's default here is 16): at tens of thousands of messages a second, the
// messages and frames a pipelined sender keeps in flight outlive a small young generation, get promoted and are
// collected again by full GCs. With 32 the throughput benchmark measured 27.7-30.5 µs CPU per message instead of
// 30.5-32.2 (2 cores, three alternating runs each); the 64 MiB message's peak RSS did not change.
export const HUB_V8_FLAGS = ['--max-semi-space-size=32'];

/** The same flags as one Electron switch (`--js-flags` applies them to the main process when given at launch). */
export const ELECTRON_JS_FLAGS = `--js-flags=${HUB_V8_FLAGS.join(' ')}`;
