// The most common test network: "east" serves an echo server under the
// routing key "echo" and accepts links; "west" links to it with a token and
// has a listener for "echo". Resolves once a connection gets through.

import { type RuntimeName } from "./runtimes.ts";
import { SiteProcess, startSites } from "./sites.ts";
import { echoServer, type TestServer, waitForRoute } from "./traffic.ts";

export interface EchoPair {
  echo: TestServer;
  east: SiteProcess;
  west: SiteProcess;
  linkUrl: string;
  /** West's listener port for "echo". */
  port: number;
  stop(): Promise<void>;
}

export async function startEchoPair(options: { east: RuntimeName; west?: RuntimeName; eastSettings?: Record<string, string> }): Promise<EchoPair> {
  const echo = await echoServer();
  const settings = options.eastSettings === undefined ? {} : { siteSpec: { settings: JSON.stringify(options.eastSettings) } };
  const [east] = await startSites([
    { name: "east", runtime: options.east, acceptLinks: true, ...settings, connectors: [{ name: "echo", routingKey: "echo", port: echo.port }] },
  ]);
  const linkUrl = await east!.linkUrl();
  const west = new SiteProcess({ name: "west", runtime: options.west ?? "node", listeners: [{ name: "echo", routingKey: "echo" }], links: [{ name: "to-east", url: linkUrl }] });
  const port = await west.listenerPort("echo");
  await west.waitFor(/link to-east is up/);
  await waitForRoute(port);
  return {
    echo,
    east: east!,
    west,
    linkUrl,
    port,
    stop: async () => {
      await Promise.all([west.stop(), east!.stop()]);
      await echo.close();
    },
  };
}
