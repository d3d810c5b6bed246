export const HUB_V8_FLAGS: string[];
export const ELECTRON_JS_FLAGS: string;
