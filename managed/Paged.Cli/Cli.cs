using CommandLine;
using Paged.Cli.ServeBench;
using Paged.Models;
using Paged.Runtime;

namespace Paged.Cli;

/// <summary>Parses the command line and runs one verb; user errors become a message and exit code 2.</summary>
public static class Cli
{
    public static int Run(string[] args)
    {
        using var parser = new Parser(s =>
        {
            s.CaseInsensitiveEnumValues = true;
            s.HelpWriter = null;
            s.AutoVersion = true;
            s.AllowMultiInstance = true; // repeatable options: --lora NAME=PATH --lora ..., --tenant-weight A=1 --tenant-weight B=2
        });
        var result = parser.ParseArguments<GenerateOptions, InfoOptions, BenchOptions, BenchServeOptions, MakeModelOptions, ServeOptions, RunBatchOptions, RouterVerbOptions, RolloutOptions>(NormalizeArgs(args));
        try
        {
            return result.MapResult(
                (GenerateOptions o) => GenerateCommand.Run(o),
                (InfoOptions o) => InfoCommand.Run(o),
                (BenchOptions o) => o.Suite switch
                {
                    BenchSuite.Kernels => KernelBenchCommand.Run(o),
                    BenchSuite.Throughput => ThroughputBenchCommand.Run(o),
                    _ => BenchCommand.Run(o),
                },
                (BenchServeOptions o) => BenchServeCommand.Run(o),
                (MakeModelOptions o) => MakeModelCommand.Run(o),
                (ServeOptions o) => ServeCommand.Run(o),
                (RunBatchOptions o) => RunBatchCommand.Run(o),
                (RouterVerbOptions o) => RouterCommand.Run(o),
                (RolloutOptions o) => RolloutCommand.Run(o),
                errs => ReportParseErrors(result, errs));
        }
        catch (Exception e) when (IsUserError(e))
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
    }

    /// <summary>
    /// CommandLineParser wants long names of two or more characters: accept vLLM's --n as --num-samples.
    /// It has no sub-verbs either: 'bench serve' (no engine, no model) is the verb 'bench-serve'.
    /// </summary>
    private static string[] NormalizeArgs(string[] args)
    {
        if (args.Length >= 2 && args[0] == "bench" && args[1] == "serve")
            args = ["bench-serve", .. args[2..]];
        return [.. args.Select(a => a == "--n" ? "--num-samples" : a.StartsWith("--n=", StringComparison.Ordinal) ? "--num-samples=" + a[4..] : a)];
    }

    private static bool IsUserError(Exception e) =>
        e is ArgumentException or ModelFormatException or BackendException or FileNotFoundException
            or DirectoryNotFoundException or UnauthorizedAccessException or IOException or FormatException
            or System.Text.Json.JsonException or Paged.Models.Templates.TemplateException;

    private static int ReportParseErrors(ParserResult<object> result, IEnumerable<Error> errors)
    {
        var list = errors.ToList();
        bool help = list.IsHelp() || list.IsVersion();
        if (list.IsVersion())
        {
            Console.WriteLine(typeof(Cli).Assembly.GetName().Version);
            return 0;
        }

        bool verbIndex = result.TypeInfo.Current == typeof(NullInstance);
        if (!help)
        {
            var sentences = CommandLine.Text.SentenceBuilder.Create();
            foreach (var e in list)
                Console.Error.WriteLine($"error: {sentences.FormatError(e)}");
        }

        var text = CommandLine.Text.HelpText.AutoBuild(result, h =>
        {
            h.AdditionalNewLineAfterOption = false;
            h.Heading = "paged - LLM inference with a paged KV cache";
            h.Copyright = "";
            return h;
        }, e => e, verbsIndex: verbIndex);
        (help ? Console.Out : Console.Error).WriteLine(text);
        return help ? 0 : 2;
    }
}
