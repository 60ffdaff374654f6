import { Option, type Command } from 'commander';
import { artifactCommands } from './artifacts.js';
import { completionCommands } from './completion.js';
import { executionCommands } from './executions.js';
import { gcCommands } from './gc.js';
import { loginCommands } from './login.js';
import { memberCommands } from './members.js';
import { policyCommands } from './policies.js';
import { projectCommands } from './projects.js';
import { registryCommands } from './registries.js';
import { robotCommands } from './robots.js';
import { userCommands } from './users.js';

// `berth admin …`: the admin command line, over the Harbor-shaped REST API /api/v2.0 only.

export function adminCommand(program: Command): void {
  const admin = program
    .command('admin')
    .description('administer a running Berth over its REST API (/api/v2.0)')
    .option('--url <url>', 'the registry, e.g. https://registry.example.com (env BERTH_ADMIN_URL)')
    .option('-u, --user <name>', 'user or robot (env BERTH_ADMIN_USER; default admin when only a password is set)')
    .addOption(new Option('--password <password>', 'password (env BERTH_ADMIN_PASSWORD; prefer it, or `login --password-stdin`)'))
    .option('--ca-file <pem>', 'CA bundle to trust for https (env BERTH_ADMIN_CA_FILE)')
    .option('-k, --insecure', "don't verify the server's TLS certificate")
    .option('--config <file>', 'saved login (default ~/.config/berth/admin.yaml, env BERTH_ADMIN_CONFIG)')
    .option('--json', 'print JSON (the API objects) for scripts')
    // Inherited by every subcommand: a usage mistake exits 2, as our own usage errors do (commander says 1).
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
    .addHelpText(
      'after',
      `
Credentials come from the flags, then BERTH_ADMIN_URL / BERTH_ADMIN_USER / BERTH_ADMIN_PASSWORD, then the file
\`berth admin login\` saved. Exit codes: 0 done, 1 the server refused (or a watched run failed), 2 bad usage,
3 the server is unreachable, 4 not authorized (401/403), 5 not found.

Examples:
  berth admin login https://registry.example.com -u admin --password-stdin < pw.txt
  berth admin projects create team
  berth admin members add team alice --role maintainer
  berth admin robots create ci --project team --access pull,push
  berth admin registries create idc-b https://b.example --access-key admin --access-secret-stdin
  berth admin policies create a-to-b --dest idc-b --repos 'team/**' --trigger event --deletion
  berth admin replication start a-to-b --watch`,
    );
  loginCommands(admin);
  projectCommands(admin);
  memberCommands(admin);
  robotCommands(admin);
  userCommands(admin);
  registryCommands(admin);
  policyCommands(admin);
  executionCommands(admin);
  artifactCommands(admin);
  gcCommands(admin);
  completionCommands(admin);
}
