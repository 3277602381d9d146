import { runCli } from './program.ts';

// Entry point of the `warren` bin: exit code from runCli, no stack trace unless --verbose.
process.exitCode = await runCli(process.argv.slice(2));
