// Parses the command line and maps Skiff's error codes to exit codes.

import { Command, CommanderError, Option } from "commander";
import { ConfigError, errorMessage, ErrorCode, SkiffError } from "../errors.ts";
import type { Platform } from "../platform/types.ts";
import { SKIFF_VERSION } from "../site/site.ts";
import { runCommand } from "./run.ts";
import { loadConfig } from "./load-config.ts";

// The status and token commands are loaded only when asked for: a running site
// (the long-lived process) never needs them.
const statusModule = () => import("./status.ts");
const tokenModule = () => import("./token.ts");

/** Exit codes: 0 ok, 1 failure while running, 2 bad usage or configuration, 3 site not running, 4 token refused. */
const exitCodes: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.Usage]: 2,
  [ErrorCode.Config]: 2,
  [ErrorCode.Admin]: 3,
  [ErrorCode.Token]: 4,
};

export async function main(platform: Platform): Promise<void> {
  let code: number;
  try {
    code = await dispatch(platform, platform.args());
  } catch (err) {
    code = report(platform, err);
  }
  platform.exit(code);
}

function report(platform: Platform, err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
  if (err instanceof ConfigError) {
    platform.writeStderr(err.message + "\n");
    return 2;
  }
  if (err instanceof SkiffError) {
    platform.writeStderr(`skiff: ${err.message}\n`);
    return exitCodes[err.code] ?? 1;
  }
  platform.writeStderr(`skiff: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : errorMessage(err)}\n`);
  return 1;
}

async function dispatch(platform: Platform, args: string[]): Promise<number> {
  let result: Promise<number> = Promise.resolve(0);
  const program = new Command("skiff")
    .description("Skiff: a portable application network. Sites linked over WebSockets carry TCP services between places.")
    .version(SKIFF_VERSION)
    .exitOverride()
    .configureOutput({ writeOut: (s) => platform.writeStdout(s), writeErr: (s) => platform.writeStderr(s) })
    .showHelpAfterError("(run skiff --help for usage)");

  const configOption = () => new Option("-c, --config <file>", "the site's configuration file (YAML or JSON)").makeOptionMandatory();

  program
    .command("run")
    .description("run a site until SIGINT or SIGTERM")
    .addOption(configOption())
    .addOption(new Option("--log-format <format>", "log line format").choices(["text", "json"]).default("text"))
    .addOption(new Option("--log-level <level>", "least important level logged").choices(["debug", "info", "warn", "error"]).default("info"))
    .action((opts) => {
      result = runCommand(platform, { config: opts.config, logFormat: opts.logFormat, logLevel: opts.logLevel });
    });

  program
    .command("status")
    .description("show the running site's links, network and services")
    .addOption(configOption())
    .addOption(new Option("-o, --output <format>", "output format").choices(["text", "json"]).default("text"))
    .action((opts) => {
      result = statusModule().then((m) => m.statusCommand(platform, { config: opts.config, output: opts.output }));
    });

  const token = program.command("token").description("issue and redeem access tokens that let another site link to this one");
  token
    .command("issue")
    .description("write an AccessToken file another site can redeem to link to this (running) site")
    .argument("<file>", "where to write the token (it holds a secret: keep it private)")
    .addOption(configOption())
    .option("--redemptions-allowed <n>", "how many sites may redeem it (default 1, or the grant's)")
    .option("--expiration-window <duration>", "how long it stays valid, e.g. 15m, 1h (default 15m, or the grant's)")
    .option("--grant <name>", "use the settings of this AccessGrant from the config file")
    .option("--cost <n>", "the cost of the link the token creates (default 1)")
    .action((file, opts) => {
      result = tokenModule().then((m) =>
        m.tokenIssueCommand(platform, {
          config: opts.config,
          file,
          grant: opts.grant,
          redemptionsAllowed: opts.redemptionsAllowed,
          expirationWindow: opts.expirationWindow,
          cost: opts.cost,
        }),
      );
    });
  token
    .command("redeem")
    .description("redeem an AccessToken file: get a certificate and a link to the site that issued it")
    .argument("<file>", "the AccessToken file")
    .addOption(configOption())
    .action((file, opts) => {
      result = tokenModule().then((m) => m.tokenRedeemCommand(platform, { config: opts.config, file }));
    });

  program
    .command("revoke")
    .description("refuse links from a site from now on, closing the ones it has")
    .argument("<site>", "the site's name")
    .addOption(configOption())
    .action((site, opts) => {
      result = tokenModule().then((m) => m.revokeCommand(platform, { config: opts.config, site }));
    });

  program
    .command("check")
    .description("validate a configuration file and exit")
    .addOption(configOption())
    .action((opts) => {
      result = loadConfig(platform, opts.config).then((config) => {
        platform.writeStdout(`${opts.config}: site ${config.site.name} is valid\n`);
        return 0;
      });
    });

  await program.parseAsync(args, { from: "user" });
  return await result;
}
