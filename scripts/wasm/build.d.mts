/** Types of build.mjs, for the test that checks the committed kernel against its source. */
export function assemble(): Promise<Buffer>;
export function render(bytes: Buffer): string;
