using CommandLine;
using Paged.Cli;

return Cli.Run(args);
