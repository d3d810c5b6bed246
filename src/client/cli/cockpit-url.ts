/** `devenviro cockpit-url`: the browser cockpit's address, token included, for the hub of a data directory. */
import { discoverHubUrl } from '../discovery';
import { noArgs, type Command } from './command';
import { cockpitToken, location } from './hub';

export const cockpitUrl: Command = {
  summary: "print the cockpit's URL (with its token) to open in a browser",
  usage: 'devenviro cockpit-url [--data-dir DIR] [--url URL] [--json]',
  details:
    "The token is read from the data directory's cockpit-token file, the address from the running hub's hub.json (or --url). " +
    'Anyone with this URL controls the hub: keep it to yourself.',
  async run(ctx) {
    noArgs(ctx);
    const token = await cockpitToken(ctx.dataDir);
    const { url } = discoverHubUrl(location(ctx));
    const cockpit = `${url.replace(/\/+$/, '')}/?token=${token}`;
    if (ctx.json) return void ctx.out(JSON.stringify({ url: cockpit }));
    ctx.out(cockpit);
  },
};
