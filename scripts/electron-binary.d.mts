export function findElectronBinary(): { binary: string } | { reason: string };
